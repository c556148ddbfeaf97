"""Background and cross-store work: the pipeline (outbox to warehouse), erasure's orchestration across
every store, and the scheduled attribution run.

May import: ``ga4``, ``state``, ``stores``, ``config``, ``telemetry``, the top-level modules, and the
domain packages.
"""
