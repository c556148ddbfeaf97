"""The OpenAPI document is valid, covers every /v1 route, and a live gateway answers as it says.

Every operation's documented example is sent to a real gateway (and at least one wrong request), and each answer's
status must be one the document lists for the operation, with a body valid against the schema documented for it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Mount, Route

from gateway.api.openapi import CSP, OPERATIONS, document
from gateway.config.settings import load_settings
from gateway.service.app import create_app
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import HUMAN_UA

pytestmark = pytest.mark.live

DOC = document()
_REGISTRY = Registry().with_resource("urn:ga4gw:openapi", Resource.from_contents(DOC, DRAFT202012))


def test_the_document_is_valid_openapi_3_1() -> None:
    validate_spec(DOC)
    assert DOC["openapi"].startswith("3.1")
    assert DOC["components"]["securitySchemes"]["bearer"]["bearerFormat"] == "JWT"


def test_every_route_the_app_serves_under_v1_is_documented_with_its_own_handler(tmp_path: Path) -> None:
    app = create_app(load_settings({"GA4GW_DATA_DIR": str(tmp_path)}))
    served: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                served[(route.path, method.lower())] = route.endpoint
    documented = {(op.path, op.method): op.handler for op in OPERATIONS}
    v1 = {key for key in served if key[0].startswith("/v1")}
    assert v1 - set(documented) == set(), "routes under /v1 missing from gateway/api/openapi.py"
    assert set(documented) - set(served) == set(), "documented operations the app does not serve"
    for key, handler in documented.items():
        assert served[key] is handler, f"{key} is documented with another handler"
    for path, method in documented:
        assert method in DOC["paths"][path]


def _pointer(*parts: str) -> str:
    return "urn:ga4gw:openapi#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _response(path: str, method: str, status: int) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The documented answer for ``status`` and where it is in the document."""
    op = DOC["paths"][path][method]
    assert str(status) in op["responses"], f"{method.upper()} {path} answered {status}, not documented"
    where: tuple[str, ...] = ("paths", path, method, "responses", str(status))
    answer = op["responses"][str(status)]
    if "$ref" in answer:
        name = answer["$ref"].rsplit("/", 1)[1]
        answer, where = DOC["components"]["responses"][name], ("components", "responses", name)
    return answer, where


def conforms(answer: httpx.Response, path: str, method: str, status: int) -> Any:
    """Assert ``answer`` has ``status``, documented for the operation, with a body valid against its schema."""
    assert answer.status_code == status, answer.text
    documented, where = _response(path, method, status)
    for header in documented.get("headers", {}):
        if header.startswith("X-"):  # the MP answer's optional notes
            continue
        assert header.lower() in answer.headers, f"{status} without its documented {header} header"
    content = documented.get("content")
    if content is None:
        assert answer.content == b""
        return None
    media = answer.headers["content-type"].partition(";")[0]
    assert media in content, f"{media} is not documented for {status}"
    body = answer.json() if media == "application/json" else answer.text
    schema = {"$ref": _pointer(*where, "content", media, "schema")}
    errors = [e.message for e in Draft202012Validator(schema, registry=_REGISTRY).iter_errors(body)]
    assert errors == [], f"{method.upper()} {path} {status}: {errors}\n{body}"
    return body


def example(path: str, method: str) -> Any:
    content = DOC["paths"][path][method]["requestBody"]["content"]
    return next(iter(content.values()))["example"]


def valid(path: str, method: str, value: Any) -> None:
    """The documented examples are themselves valid against the documented request schema."""
    media, content = next(iter(DOC["paths"][path][method]["requestBody"]["content"].items()))
    if media == "application/json":
        schema = {"$ref": "urn:ga4gw:openapi" + content["schema"]["$ref"]}
        assert list(Draft202012Validator(schema, registry=_REGISTRY).iter_errors(value)) == []


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("openapi") / "data", GA4GW_PIPELINE_MAX_DELAY="0.2")
    yield gateway
    gateway.stop()


def _auth(gw: LiveGateway, scope: str) -> dict[str, str]:
    return {"authorization": f"Bearer {gw.token(scope)}"}


def test_each_documented_example_is_answered_as_documented(gw: LiveGateway) -> None:
    url = gw.url
    links = example("/v1/links", "post")
    valid("/v1/links", "post", links)
    made = conforms(
        httpx.post(url + "/v1/links", json=links, headers=_auth(gw, "links:write")), "/v1/links", "post", 200
    )
    events = example("/v1/events", "post")
    valid("/v1/events", "post", events)
    conforms(httpx.post(url + "/v1/events", json=events, headers=_auth(gw, "events:write")), "/v1/events", "post", 202)
    imported = example("/v1/events/import", "post")
    answer = httpx.post(url + "/v1/events/import", content=imported,
                        headers={**_auth(gw, "events:import"), "content-type": "application/x-ndjson"})  # fmt: skip
    assert conforms(answer, "/v1/events/import", "post", 200)["stored"] == 1
    click = httpx.get(gw.url + urlsplit(made["links"][0]["tracked"]).path,
                      headers={"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"})  # fmt: skip
    landing = parse_qs(urlsplit(click.headers["location"]).query)["ga4gw_lt"][0]
    identify = {**example("/v1/identify", "post"), "landing_token": landing}
    valid("/v1/identify", "post", identify)
    answer = httpx.post(url + "/v1/identify", json=identify, headers=_auth(gw, "identity:write"))
    conforms(answer, "/v1/identify", "post", 202)
    consent = example("/v1/consent", "post")
    valid("/v1/consent", "post", consent)
    conforms(
        httpx.post(url + "/v1/consent", json=consent, headers=_auth(gw, "consent:write")), "/v1/consent", "post", 202
    )
    answer = httpx.get(url + "/v1/consent", params={"email": "ann@example.com"}, headers=_auth(gw, "consent:read"))
    assert conforms(answer, "/v1/consent", "get", 200)["purposes"]["analytics_storage"]["granted"] is True
    answer = httpx.get(url + "/v1/ga4/status", headers=_auth(gw, "ga4:read"))
    assert conforms(answer, "/v1/ga4/status", "get", 200)["dry_run"] is True
    answer = httpx.get(url + "/v1/attribution", params={"model": "linear"}, headers=_auth(gw, "reports:read"))
    conforms(answer, "/v1/attribution", "get", 200)
    answer = httpx.get(url + "/v1/settings", headers=_auth(gw, "admin"))
    assert conforms(answer, "/v1/settings", "get", 200)["settings"]["GA4GW_PORT"] == str(urlsplit(url).port)
    wait_for(lambda: httpx.get(url + "/v1/identity/explain", params={"identifier": "email:ann@example.com"},
                               headers=_auth(gw, "identity:read")).status_code == 200)  # fmt: skip
    answer = httpx.get(url + "/v1/identity/explain", params={"identifier": "email:ann@example.com"},
                       headers=_auth(gw, "identity:read"))  # fmt: skip
    assert "ann@example.com" not in conforms(answer, "/v1/identity/explain", "get", 200)["identifier"]
    answer = httpx.get(
        url + "/v1/identity/explain", params={"identifier": "nokind"}, headers=_auth(gw, "identity:read")
    )
    conforms(answer, "/v1/identity/explain", "get", 422)
    answer = httpx.get(url + "/v1/identity/explain", params={"identifier": "email:nobody@example.com"},
                       headers=_auth(gw, "identity:read"))  # fmt: skip
    conforms(answer, "/v1/identity/explain", "get", 404)
    runs = example("/v1/attribution/runs", "post")
    valid("/v1/attribution/runs", "post", runs)
    answer = httpx.post(url + "/v1/attribution/runs", json=runs, headers=_auth(gw, "attribution:run"))
    run = conforms(answer, "/v1/attribution/runs", "post", 202)
    answer = httpx.post(url + "/v1/attribution/runs", headers=_auth(gw, "attribution:run"))  # the body is optional
    conforms(answer, "/v1/attribution/runs", "post", 202)
    answer = httpx.get(url + run["status_url"], headers=_auth(gw, "attribution:run"))
    conforms(answer, "/v1/attribution/runs/{run_id}", "get", 200)
    erasure = example("/v1/erasure", "post")
    valid("/v1/erasure", "post", erasure)
    answer = httpx.post(url + "/v1/erasure", json=erasure, headers=_auth(gw, "erasure:write"), timeout=60)
    conforms(answer, "/v1/erasure", "post", 200)
    secret = run_cli("ga4", "secret", "issue", "--name", "docs", env=gw.env)
    assert secret.returncode == 0, secret.stderr
    params = {"measurement_id": "G-DOCS1", "api_secret": secret.stdout.strip()}
    answer = httpx.post(url + "/mp/collect", params=params, json=example("/mp/collect", "post"))
    conforms(answer, "/mp/collect", "post", 204)
    answer = httpx.post(url + "/debug/mp/collect", json=example("/debug/mp/collect", "post"))
    assert conforms(answer, "/debug/mp/collect", "post", 200) == {"validationMessages": []}
    for path in ("/healthz", "/readyz", "/metrics"):
        conforms(httpx.get(url + path), path, "get", 200)


def test_wrong_requests_are_answered_as_documented(gw: LiveGateway) -> None:
    url = gw.url
    answer = httpx.post(url + "/v1/links", json={"campaign": "", "urls": ["ftp://x"]}, headers=_auth(gw, "links:write"))
    assert set(conforms(answer, "/v1/links", "post", 422)["fields"]) >= {"campaign", "urls.0"}
    answer = httpx.post(
        url + "/v1/links", content=b"{", headers={**_auth(gw, "links:write"), "content-type": "application/json"}
    )
    conforms(answer, "/v1/links", "post", 400)
    answer = httpx.post(
        url + "/v1/links", content=b"campaign=x", headers={**_auth(gw, "links:write"), "content-type": "text/plain"}
    )
    conforms(answer, "/v1/links", "post", 415)
    big = {"campaign": "x", "recipient": "r", "html": "a" * (3 * 1024 * 1024)}
    conforms(httpx.post(url + "/v1/links", json=big, headers=_auth(gw, "links:write")), "/v1/links", "post", 413)
    answer = httpx.post(url + "/v1/events", json={"events": [{"name": "nope", "client_id": "x"}]},
                        headers=_auth(gw, "events:write"))  # fmt: skip
    assert set(conforms(answer, "/v1/events", "post", 422)["fields"]) == {"events[0].name", "events[0].client_id"}
    answer = httpx.post(url + "/v1/events/import", json={}, headers=_auth(gw, "events:import"))
    conforms(answer, "/v1/events/import", "post", 415)
    answer = httpx.post(url + "/v1/events/import", content=b'{"name": "purchase"}\n',
                        headers={**_auth(gw, "events:import"), "content-type": "application/x-ndjson"})  # fmt: skip
    assert conforms(answer, "/v1/events/import", "post", 422)["stored"] == 0
    answer = httpx.post(url + "/v1/identify", json={"client_id": "nope"}, headers=_auth(gw, "identity:write"))
    assert set(conforms(answer, "/v1/identify", "post", 422)["fields"]) == {"landing_token", "client_id"}
    answer = httpx.post(url + "/v1/consent", json={"subject": {}}, headers=_auth(gw, "consent:write"))
    conforms(answer, "/v1/consent", "post", 422)
    conforms(httpx.get(url + "/v1/consent", headers=_auth(gw, "consent:read")), "/v1/consent", "get", 422)
    answer = httpx.post(url + "/v1/erasure", json={"emial": "ann@example.com"}, headers=_auth(gw, "erasure:write"))
    assert "emial" in conforms(answer, "/v1/erasure", "post", 422)["fields"]
    answer = httpx.get(url + "/v1/attribution", params={"model": "nope"}, headers=_auth(gw, "reports:read"))
    assert set(conforms(answer, "/v1/attribution", "get", 422)["fields"]) == {"model"}
    answer = httpx.post(url + "/v1/attribution/runs", json={"models": ["nope"]}, headers=_auth(gw, "attribution:run"))
    conforms(answer, "/v1/attribution/runs", "post", 422)
    answer = httpx.get(url + "/v1/attribution/runs/nope", headers=_auth(gw, "attribution:run"))
    conforms(answer, "/v1/attribution/runs/{run_id}", "get", 404)
    answer = httpx.post(url + "/debug/mp/collect", json={"events": [{"name": "_bad"}]})
    assert conforms(answer, "/debug/mp/collect", "post", 200)["validationMessages"]
    secret = run_cli("ga4", "secret", "issue", "--name", "docs", env=gw.env).stdout.strip()
    answer = httpx.post(url + "/mp/collect", params={"measurement_id": "G-DOCS1", "api_secret": secret},
                        json={"client_id": "1.2", "events": [{"name": "_bad"}]})  # fmt: skip
    assert conforms(answer, "/mp/collect", "post", 400)["validationMessages"]
    # A token without the scope, then no token, then enough bad ones to be rate limited (last: it locks the client).
    answer = httpx.get(url + "/v1/ga4/status", headers=_auth(gw, "reports:read"))
    assert "ga4:read" in conforms(answer, "/v1/ga4/status", "get", 403)["detail"]
    answer = httpx.post(url + "/mp/collect", params={"measurement_id": "G-DOCS1", "api_secret": "nope"}, json={})
    conforms(answer, "/mp/collect", "post", 403)
    for _ in range(30):
        answer = httpx.post(url + "/v1/events", json={}, headers={"authorization": "Bearer nope"})
        if answer.status_code == 429:
            break
        conforms(answer, "/v1/events", "post", 401)
        time.sleep(0.01)
    assert conforms(answer, "/v1/events", "post", 429)["limit"] == "auth_failures"
    assert int(answer.headers["retry-after"]) >= 1


def test_docs_is_a_page_of_this_origin_only_naming_every_operation(gw: LiveGateway) -> None:
    page = httpx.get(gw.url + "/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for op in OPERATIONS:
        assert f"<code>{op.path}</code>" in page.text
    served = httpx.get(gw.url + "/openapi.json")
    assert served.headers["content-type"] == "application/json"
    assert json.loads(served.content) == DOC


def test_without_the_warehouse_the_answers_are_the_documented_503s(tmp_path: Path) -> None:
    away = start_gateway(tmp_path / "data", wait_ready=False, GA4GW_WAREHOUSE_DSN="http://default:x@127.0.0.1:9/db")
    try:
        url = away.url
        conforms(httpx.get(url + "/readyz"), "/readyz", "get", 503)
        answer = httpx.get(url + "/v1/attribution", headers=_auth(away, "reports:read"))
        conforms(answer, "/v1/attribution", "get", 503)
        answer = httpx.post(
            url + "/v1/erasure", json={"email": "ann@example.com"}, headers=_auth(away, "erasure:write")
        )
        conforms(answer, "/v1/erasure", "post", 503)
        answer = httpx.post(url + "/v1/events/import", content=example("/v1/events/import", "post"),
                            headers={**_auth(away, "events:import"), "content-type": "text/csv"})  # fmt: skip
        conforms(answer, "/v1/events/import", "post", 503)
    finally:
        away.stop()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed: `make browser` installs the Debian package chromium")
    return found


def test_docs_renders_in_headless_chromium_from_this_origin_alone(gw: LiveGateway, tmp_path: Path) -> None:
    """What a person sees: Chromium loads /docs (and its stylesheet) under the page's policy, from nowhere else."""
    netlog = tmp_path / "net.json"
    browser = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
         f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", gw.url + "/docs"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert browser.returncode == 0, browser.stderr[-3000:]
    dom = browser.stdout
    for op in OPERATIONS:
        assert f"<code>{op.path}</code>" in dom, op.path
    assert "Refused to" not in browser.stderr, "the page's own policy blocked something it needs"
    elsewhere = [u for u in re.findall(r'(?:src|href|action)="([^"]*)"', dom) if not u.startswith(("/", "#"))]
    assert elsewhere == [], "the page refers to another origin (its policy would block it)"
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    site = "http://" + urlsplit(gw.url).hostname  # type: ignore[operator]
    loaded = [e["params"]["url"] for e in log["events"] if e["type"] == start and "params" in e
              and e["params"].get("network_isolation_key", "").startswith(site + " ")]  # fmt: skip
    assert gw.url + "/docs.css" in loaded, loaded  # the page's requests are in the log, so none other was made
    assert [url for url in loaded if not url.startswith(gw.url + "/")] == []


def test_the_page_and_its_style_carry_the_policy(gw: LiveGateway) -> None:
    for path in ("/docs", "/docs.css"):
        answer = httpx.get(gw.url + path)
        assert answer.headers["content-security-policy"] == CSP
    assert CSP.startswith("default-src 'self';")
