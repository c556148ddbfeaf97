"""Consent: the ledger, the policy per purpose and region, Consent Mode v2 / TCF mapping, erasure, retention.

Nothing is offered yet; the identity-and-consent issue fills this package. It may import ``warehouse`` only.
"""

__all__: list[str] = []
