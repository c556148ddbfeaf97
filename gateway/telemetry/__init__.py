"""Telemetry: the Prometheus metrics registry and its ``/metrics`` route, shared by every room.

May import: the package's top-level modules (``gateway.errors``).
"""
