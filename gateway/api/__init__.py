"""The authenticated HTTP API: JSON routes (links, events, MP, identify, consent, erasure, attribution),
the analyst ClickHouse interface, health, the OpenAPI document of them all (``/openapi.json``, ``/docs``), and what
they share (auth, request bodies).

Routes parse, check and answer; the work they start lives in the rooms below.

May import: ``jobs``, ``ga4``, ``edge``, ``state``, ``stores``, ``config``, ``telemetry``, the top-level
modules, and the domain packages.
"""
