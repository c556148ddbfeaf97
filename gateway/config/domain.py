"""The domain packages' configurations built from the gateway's settings.

The app, the scheduled jobs and the CLI all need the same ``GraphConfig`` and ``AttributionConfig``; building
them here keeps those callers from importing each other (the app once imported a CLI module for this).
The domain packages are imported when a function runs: they pull in the warehouse driver, which the edge
and the CLI's quick commands should not pay for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:
    from attribution import AttributionConfig
    from identity import GraphConfig

__all__ = ["attribution_config", "graph_config"]


def graph_config(settings: Settings) -> GraphConfig:
    """The identity graph's guards from the settings (``identity.GraphConfig``)."""
    from identity import GraphConfig

    return GraphConfig(max_persons=settings.identity_max_persons, window_days=settings.identity_edge_window_days)


def attribution_config(settings: Settings) -> AttributionConfig:
    """The attribution package's configuration from the gateway's settings."""
    from attribution import AttributionConfig

    return AttributionConfig(
        conversion_events=settings.attribution_conversion_events,
        click_lookback_days=settings.attribution_click_lookback_days,
        open_lookback_days=settings.attribution_open_lookback_days,
        visit_lookback_days=settings.attribution_visit_lookback_days,
        open_weight=settings.attribution_open_weight,
        half_life_days=settings.attribution_half_life_days,
        fit_days=settings.attribution_fit_days,
        identity=graph_config(settings),
    )
