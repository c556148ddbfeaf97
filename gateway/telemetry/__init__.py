"""Telemetry: the Prometheus metrics registry and its ``/metrics`` route, the log's format and redaction, request
ids and access lines; shared by every room.

May import: the package's top-level modules (``gateway.errors``).
"""
