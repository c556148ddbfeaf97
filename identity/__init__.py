"""Pseudonymous identity: keyed pseudonyms with key rotation, the identity graph, landing tokens.

Nothing is offered yet; the identity-graph issue fills this package. It may import ``warehouse`` only.
"""

__all__: list[str] = []
