"""The attribution settings (lookback windows, weights, the nightly run), declared like every other setting."""

from __future__ import annotations

from . import parsers as p
from .parsers import SettingSpec

__all__ = ["ATTRIBUTION_SPECS"]

ATTRIBUTION_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "attribution_conversion_events",
        p.event_names,
        "purchase",
        "Event names that count as conversions in attribution (purchases are de-duplicated by transaction id).",
        "comma-separated event names",
    ),
    SettingSpec(
        "attribution_click_lookback_days",
        p.days,
        "30",
        "How long before a conversion a human email click still earns credit.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_open_lookback_days",
        p.days,
        "3",
        "How long before a conversion a human email open still earns credit (machine opens never do).",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_visit_lookback_days",
        p.days,
        "30",
        "How long before a conversion a visit from another channel (source/medium, or direct) still earns credit.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_open_weight",
        p.weight,
        "0.5",
        "Weight of a human email open against a click's 1 in every model; 0 leaves opens out.",
        "a number from 0 to 100",
    ),
    SettingSpec(
        "attribution_half_life_days",
        p.days,
        "7",
        "Half-life of the time-decay model: a touch this much older than another earns half its credit.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_fit_days",
        p.days,
        "90",
        "Markov and Shapley models learn from the journeys ending in this many days before a run's end, "
        "whatever the run's start.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_nightly_at",
        p.time_of_day,
        "03:30",
        "UTC time of the nightly incremental attribution run in `ga4gw serve`; empty turns it off.",
        "HH:MM or empty",
    ),
)
