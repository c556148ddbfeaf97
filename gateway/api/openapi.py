"""The API's OpenAPI 3.1 document, ``GET /openapi.json``, and its readable page, ``GET /docs``.

The operations are declared in ``openapi_paths``, each with the handler that serves it, its scope, its bodies
(``openapi_schemas``, built from the handlers' own constants) and an example request that the handler accepts;
this module assembles them. ``tests/gateway/test_openapi_live.py`` walks the app's routes and fails when a ``/v1``
route has no operation or an operation's handler is not the one the app routes to, and sends every example (and
a wrong request) to a live gateway, checking each answer against the schema documented for its status: the
document cannot drift from the code without a test failing.

``/clickhouse`` speaks ClickHouse's own HTTP interface (documented by ClickHouse) and is not described here.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .auth import SCOPES
from .docs_page import STYLE, render
from .openapi_paths import JSON, OPERATIONS, SHARED_RESPONSES, Operation
from .openapi_schemas import SCHEMAS

__all__ = ["CSP", "OPERATIONS", "document", "routes"]

Schema = dict[str, Any]
# The page loads its style from here and nothing else: no script, no font, no other origin.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _responses(op: Operation) -> dict[str, Schema]:
    shared = {f"{s}": {"$ref": f"#/components/responses/{n}"} for s, n in (("429", "RateLimited"),)}
    if op.scope:
        shared |= {
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
        }
    if op.body is not None and JSON in op.body:
        shared |= {
            s: {"$ref": f"#/components/responses/{n}"}
            for s, n in (("400", "BadRequest"), ("413", "TooLarge"), ("415", "NotJson"), ("422", "Invalid"))
        }
    return dict(sorted({**shared, **op.responses}.items()))


def _operation(op: Operation) -> Schema:
    out: Schema = {
        "operationId": op.handler.__name__.lstrip("_"),
        "summary": op.summary,
        "description": (op.handler.__doc__ or op.summary).strip().split("\n\n")[0].replace("``", "`"),
        "tags": [op.tag],
        "responses": _responses(op),
    }
    if op.scope:
        out["security"] = [{"bearer": [op.scope]}]
        out["description"] += f"\n\nScope: `{op.scope}` (or `admin`)."  # for readers of the JSON; /docs shows it
    if op.parameters:
        out["parameters"] = op.parameters
    if op.body is not None:
        content = {media: {"schema": schema} for media, schema in op.body.items()}
        if op.example is not None:
            content[next(iter(content))]["example"] = op.example
        out["requestBody"] = {"required": op.body_required, "content": content}
    return out


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once: everything in it is fixed when the package is imported)."""
    paths: dict[str, dict[str, Schema]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    schemas = {
        **SCHEMAS,
        "MpError": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ga4-gateway API",
            "version": "1",
            "description": "First-party email tracking and GA4 attribution. API routes take a bearer JWT "
            "(`ga4gw token issue --scope ...`); each operation names the scope it needs (`admin` grants all).",
        },
        "tags": [{"name": "API"}, {"name": "Measurement Protocol"}, {"name": "Service"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": SHARED_RESPONSES,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "HS256 JWTs from `ga4gw token issue`. Scopes: " + ", ".join(sorted(SCOPES)) + ".",
                }
            },
        },
    }


@cache
def _document_bytes() -> bytes:
    return json.dumps(document(), ensure_ascii=False, indent=1).encode()


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``: the document (no token needed: it holds no data)."""
    return Response(_document_bytes(), media_type=JSON, headers={"cache-control": "no-cache"})


async def docs(request: Request) -> HTMLResponse:
    """``GET /docs``: the document as plain HTML, rendered here: nothing to load, no script, no other origin."""
    return HTMLResponse(
        render(document()), headers={"content-security-policy": CSP, "x-content-type-options": "nosniff"}
    )


async def docs_css(request: Request) -> Response:
    """``GET /docs.css``: the page's style, from this origin (the page's policy allows nothing else)."""
    return Response(STYLE, media_type="text/css", headers={"content-security-policy": CSP})


def routes() -> list[Route]:
    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs.css", docs_css, methods=["GET"]),
    ]
