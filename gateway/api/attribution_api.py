"""Attribution over HTTP: ``GET /v1/attribution?model=...&group_by=...`` (scope ``reports:read``).

Answers the credits of one model summed by channel, campaign, or campaign and variant, over an optional
``since``/``until`` window of conversion times, with what the data-driven model learned per channel in its
latest run. ``gateway.config.domain.attribution_config`` turns the settings into the package's configuration
for every caller (this route, ``ga4gw attribution run`` and the nightly run).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from attribution import GROUPINGS, MODELS, check_grouping, check_models
from gateway.errors import InvalidRequest
from warehouse import Warehouse
from warehouse.migrate import dialect_for

from .auth import authenticate

__all__ = ["credit_report", "routes"]

_MAX_GROUPS = 10_000


def credit_report(
    wh: Warehouse, model: str, group_by: str, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Credits of ``model`` summed by ``group_by`` (raises ``AttributionError`` for unknown names)."""
    check_models([model])
    keys = check_grouping(group_by)
    d = dialect_for(wh)
    key_list = ", ".join(keys)
    rows = wh.rows(
        f"SELECT {key_list}, currency, sum(credit) AS conversions, sum(revenue) AS revenue "
        f"FROM {d.qualified('attribution_credits')} "
        "WHERE model = {model:String} "
        "AND conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')} "
        f"GROUP BY {key_list}, currency ORDER BY conversions DESC, {key_list} LIMIT {_MAX_GROUPS}",
        {
            "model": model,
            "since": since or datetime(2000, 1, 1, tzinfo=UTC),
            "until": until or datetime(2200, 1, 1, tzinfo=UTC),
        },
    )
    groups = []
    for row in rows:
        item: dict[str, Any] = dict(zip(keys, row[: len(keys)], strict=True))
        item.update(currency=row[-3], conversions=float(row[-2]), revenue=str(row[-1]))
        groups.append(item)
    learned = wh.rows(
        f"SELECT channel, value, error FROM {d.qualified('attribution_channel_values')} "
        "WHERE model = {model:String} AND run_id = ("
        f"SELECT argMax(run_id, run_at) FROM {d.qualified('attribution_channel_values')} WHERE model = {{model:String}}"
        ") ORDER BY channel",
        {"model": model},
    )
    return {
        "model": model,
        "group_by": group_by,
        "groups": groups,
        "channel_values": [{"channel": c, "value": v, "error": e} for c, v, e in learned],
    }


def _time(request: Request, name: str, errors: dict[str, str]) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors[name] = "an ISO-8601 date or time"
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def attribution_report(request: Request) -> JSONResponse:
    """``GET /v1/attribution``: credits by model and grouping as JSON."""
    authenticate(request, "reports:read")
    errors: dict[str, str] = {}
    model = request.query_params.get("model", "linear")
    group_by = request.query_params.get("group_by", "channel")
    if model not in MODELS:
        errors["model"] = f"one of {', '.join(MODELS)}"
    if group_by not in GROUPINGS:
        errors["group_by"] = f"one of {', '.join(GROUPINGS)}"
    since, until = _time(request, "since", errors), _time(request, "until", errors)
    if errors:
        raise InvalidRequest("the request has invalid parameters", errors)
    wh = request.app.state.warehouse_link.reader
    if wh is None:
        return JSONResponse({"error": "unavailable", "detail": "the warehouse is not connected"}, status_code=503)
    report = await anyio.to_thread.run_sync(credit_report, wh, model, group_by, since, until)
    return JSONResponse(report)


def routes() -> list[Route]:
    return [Route("/v1/attribution", attribution_report, methods=["GET"])]
