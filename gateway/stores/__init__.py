"""The stores: the SQLite helper, the durable outbox, the run file, and the link to the warehouse.

What is acknowledged is in the outbox; what is analysed is in the warehouse. Nothing here knows
HTTP.

May import: ``config``, ``telemetry``, the top-level modules, and the domain package ``warehouse``.
"""
