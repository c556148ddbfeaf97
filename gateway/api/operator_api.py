"""The operator's questions to the running gateway: ``GET /v1/settings`` (scope ``admin``) and
``GET /v1/identity/explain`` (scope ``identity:read``), for ``ga4gw settings`` and ``ga4gw identity explain``.

The settings a gateway runs with are its process's (environment, config file, and what ``ga4gw serve`` decided:
the port it bound, the public URL following it), not the shell's of whoever runs the CLI; the identity graph
is the one in its memory, and its embedded warehouse has one owner. So the CLI asks it, through these routes,
whenever one owns the data directory. Secrets are shown as ``(set)`` / ``(empty)``, never their values; an
identifier's raw value (``email:jane@example.com``) is turned into its pseudonyms here, as erasure does, and
the answer names only pseudonyms.
"""

from __future__ import annotations

import os

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.config.settings import Settings, shown
from gateway.errors import InvalidRequest
from gateway.jobs.erasure import pseudonymised, unknown_detail
from gateway.state.identity_link import IdentityLink
from identity import Identifier, IdentityError, Pseudonymizer, UnknownIdentifier

from .auth import authenticate

__all__ = ["routes"]


async def get_settings(request: Request) -> JSONResponse:
    """``GET /v1/settings``: the effective settings, secrets masked, and where this gateway runs."""
    authenticate(request, "admin")
    settings: Settings = request.app.state.settings
    gateway = {"pid": os.getpid(), "url": getattr(request.app.state, "listen_url", ""),
               "data_dir": str(settings.data_dir.resolve())}  # fmt: skip
    return JSONResponse({"settings": dict(shown(settings)), "gateway": gateway})


async def explain_identifier(request: Request) -> JSONResponse:
    """``GET /v1/identity/explain?identifier=kind:value``: the person behind it, as the gateway's graph has it."""
    authenticate(request, "identity:read")
    text = request.query_params.get("identifier", "")
    try:
        identifier = Identifier.parse(text)
    except IdentityError:  # its message would repeat the value, which may be an email
        raise InvalidRequest(
            "the identifier cannot be used",
            {"identifier": "kind:value (kinds: recipient, email, crm, user, ga_client, device)"},
        ) from None
    pseudonymizer: Pseudonymizer = request.app.state.pseudonymizer
    identity: IdentityLink = request.app.state.identity
    if not identity.loaded:  # an answer from a graph half loaded would miss edges: say so instead
        return JSONResponse({"error": "not_ready", "detail": "the identity graph is still loading"}, 503)
    candidates = [*pseudonymised(identifier, pseudonymizer), identifier]  # its pseudonyms first, if raw
    try:
        explanation = await anyio.to_thread.run_sync(identity.explain, candidates)
    except UnknownIdentifier:
        body = {"error": "unknown_identifier", "detail": unknown_detail(identifier), "edges": identity.edge_count}
        return JSONResponse(body, 404)
    body = {"identifier": explanation.identifier.key, "person_id": explanation.person_id,
            "lines": explanation.lines()}  # fmt: skip
    return JSONResponse(body)


def routes() -> list[Route]:
    return [
        Route("/v1/settings", get_settings, methods=["GET"]),
        Route("/v1/identity/explain", explain_identifier, methods=["GET"]),
    ]
