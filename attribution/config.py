"""What an attribution run is told: models, lookback windows, weights, half-life, fit window."""

from __future__ import annotations

from dataclasses import dataclass, field

from identity import GraphConfig

from .errors import UnknownGrouping, UnknownModel

__all__ = [
    "DATA_DRIVEN_MODELS",
    "GROUPINGS",
    "MODELS",
    "RULE_MODELS",
    "AttributionConfig",
    "check_grouping",
    "check_models",
]

RULE_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
)
DATA_DRIVEN_MODELS: tuple[str, ...] = ("markov_1", "markov_2", "markov_3", "shapley")
MODELS: tuple[str, ...] = RULE_MODELS + DATA_DRIVEN_MODELS

# How credit rows are summed up for reports: the touch's channel, its campaign, or campaign and variant.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "channel": ("channel",),
    "campaign": ("campaign_id",),
    "campaign_variant": ("campaign_id", "variant"),
    "default_channel": ("default_channel",),  # GA4's default channel group, to set beside GA4's reports
}


@dataclass(frozen=True)
class AttributionConfig:
    """The knobs of attribution. Defaults follow the issue: click 30 days, open 3 days, half-life 7 days."""

    conversion_events: tuple[str, ...] = ("purchase",)
    click_lookback_days: float = 30.0
    open_lookback_days: float = 3.0
    visit_lookback_days: float = 30.0
    open_weight: float = 0.5  # a human open's weight against a click's 1; 0 leaves opens out
    half_life_days: float = 7.0
    fit_days: float = 90.0  # Markov and Shapley learn from the journeys ending in [until - fit_days, until]
    max_markov_states: int = 4000
    identity: GraphConfig = field(
        default_factory=GraphConfig
    )  # who is one person: the gateway's guards (GA4GW_IDENTITY_*)

    @property
    def max_lookback_days(self) -> float:
        return max(self.click_lookback_days, self.open_lookback_days, self.visit_lookback_days)


def check_models(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The models named, in canonical order; raises ``UnknownModel``."""
    for name in names:
        if name not in MODELS:
            raise UnknownModel(name, MODELS)
    return tuple(m for m in MODELS if m in names)


def check_grouping(name: str) -> tuple[str, ...]:
    """The credit columns a grouping sums by; raises ``UnknownGrouping``."""
    try:
        return GROUPINGS[name]
    except KeyError:
        raise UnknownGrouping(name, GROUPINGS) from None
