"""Dashboards: the web UI and its JSON endpoints, mounted by ``gateway``.

Nothing is offered yet. It may import ``warehouse``, ``attribution``, ``identity`` and ``consent``.
"""

__all__: list[str] = []
