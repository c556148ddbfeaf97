"""The edge, the hot path: signed link and pixel tokens, ``/o/`` and ``/c/``, the machine classifier, the
email rewriter, IP truncation.

It records to the outbox and answers; it never opens the warehouse (``tests/gateway/test_layout.py``
checks that importing it loads no ClickHouse driver), so it can run in a worker of its own.

May import: ``state``, ``stores`` (the outbox), ``config``, ``telemetry``, the top-level modules, and the
domain packages' pure parts (``identity``, ``consent``, ``warehouse.events``).
"""
