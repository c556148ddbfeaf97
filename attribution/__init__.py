"""Attribution: touch paths, lookback windows, rule-based, time-decay, Markov and Shapley models.

Nothing is offered yet; the attribution issue fills this package. It may import ``warehouse`` only.
"""

__all__: list[str] = []
