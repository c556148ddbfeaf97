"""ga4-gateway's service: the edge, the API, the stores, the GA4 relay, the jobs and the CLI, in rooms.

Each subpackage is a room whose ``__init__`` says what it holds and what it may import; ARCHITECTURE.md
has the table and ``tests/gateway/test_layout.py`` enforces it. Nothing is imported here: importing one
room (the edge, in a worker) must not load the others.
"""
