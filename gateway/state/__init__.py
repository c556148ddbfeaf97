"""The running gateway's memory: the consent snapshot and the identity graph, kept up to date from the
routes, the pipeline and the warehouse.

May import: ``stores``, ``config``, ``telemetry``, the top-level modules, and the domain packages
(``consent``, ``identity``; ``warehouse`` for annotations only).
"""
