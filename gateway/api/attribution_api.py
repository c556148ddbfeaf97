"""Attribution over HTTP: ``GET /v1/attribution?model=...&group_by=...`` (scope ``reports:read``), and runs on demand:
``POST /v1/attribution/runs`` and ``GET /v1/attribution/runs/{id}`` (scope ``attribution:run``).

Answers the credits of one model summed by channel, campaign, or campaign and variant, over an optional
``since``/``until`` window of conversion times, with what the data-driven model learned per channel in its
latest run. ``gateway.config.domain.attribution_config`` turns the settings into the package's configuration
for every caller (this route, ``ga4gw attribution run`` and the nightly run).

A run asked for answers 202 at once with its id and status URL; it runs in the background, behind any run under
way (the nightly one included: ``gateway.jobs.runs`` serialises them), and its status says ``queued``,
``running`` (with its step), ``done`` (with its counts) or ``failed`` (with the reason).
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
from .bodies import read_json

__all__ = ["credit_report", "routes"]

_MAX_GROUPS = 10_000
_MAX_BODY = 4096


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


def _time(request: Request, name: str, errors: dict[str, str], value: object = None) -> datetime | None:
    value = request.query_params.get(name) if value is None else value
    if not value:
        return None
    if not isinstance(value, str):
        errors[name] = "an ISO-8601 date or time"
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


async def start_run(request: Request) -> JSONResponse:
    """``POST /v1/attribution/runs``: 202 with the run's id and status URL; the run starts behind any under way.

    Body (optional): ``{"models": [...], "since": ISO time, "until": ISO time}``; by default every model, from where
    the last run ended (less a day) to now.
    """
    authenticate(request, "attribution:run")
    body: dict[str, Any] = {}
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        body = await read_json(request, _MAX_BODY)
    errors: dict[str, str] = {}
    for key in body:
        if key not in ("models", "since", "until"):
            errors[key] = "unknown field (known: models, since, until)"
    models = body.get("models", list(MODELS))
    if not (isinstance(models, list) and models and all(isinstance(m, str) and m in MODELS for m in models)):
        errors["models"] = f"a non-empty list of: {', '.join(MODELS)}"
    since = _time(request, "since", errors, body.get("since", ""))
    until = _time(request, "until", errors, body.get("until", ""))
    if since and until and since >= until:
        errors["until"] = "must be after since"
    if errors:
        raise InvalidRequest("the run cannot start", errors)
    status = request.app.state.attribution_runs.submit("api", models=models, since=since, until=until)
    url = f"/v1/attribution/runs/{status.id}"
    return JSONResponse({**status.as_json(), "status_url": url}, status_code=202, headers={"location": url})


async def run_status(request: Request) -> JSONResponse:
    """``GET /v1/attribution/runs/{id}``: queued, running (with its step), done (with counts) or failed (why)."""
    authenticate(request, "attribution:run")
    status = request.app.state.attribution_runs.get(request.path_params["run_id"])
    if status is None:
        return JSONResponse({"error": "not_found", "detail": "no such run (statuses are kept until a restart)"},
                            status_code=404)  # fmt: skip
    return JSONResponse(status.as_json())


def routes() -> list[Route]:
    return [
        Route("/v1/attribution", attribution_report, methods=["GET"]),
        Route("/v1/attribution/runs", start_run, methods=["POST"]),
        Route("/v1/attribution/runs/{run_id}", run_status, methods=["GET"]),
    ]
