"""Attribution: which touches earned which conversions, by rule-based and data-driven models.

Journeys (a conversion and the touches before it, within per-kind lookback windows) are built in the warehouse;
the rule-based models (first, last, last non-direct, linear, position-based, time decay) run there as SQL; the
Markov (order 1 to 3, exact removal effects) and Shapley models learn one value per channel from counts made in
the warehouse and share each conversion out by those values. Credits land in ``attribution_credits``.
It may import ``warehouse`` only.
"""

from .config import (
    DATA_DRIVEN_MODELS,
    GROUPINGS,
    MODELS,
    RULE_MODELS,
    AttributionConfig,
    check_grouping,
    check_models,
)
from .errors import AttributionError, ModelTooLarge, UnknownGrouping, UnknownModel
from .markov import path_states, removal_effects, transition_counts
from .run import Progress, RunSummary, last_run_end, run_attribution
from .shapley import shapley_values

__all__ = [
    "DATA_DRIVEN_MODELS",
    "GROUPINGS",
    "MODELS",
    "RULE_MODELS",
    "AttributionConfig",
    "AttributionError",
    "ModelTooLarge",
    "Progress",
    "RunSummary",
    "UnknownGrouping",
    "UnknownModel",
    "check_grouping",
    "check_models",
    "last_run_end",
    "path_states",
    "removal_effects",
    "run_attribution",
    "shapley_values",
    "transition_counts",
]
