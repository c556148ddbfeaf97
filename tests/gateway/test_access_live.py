"""Revoking tokens and MP secrets, and rate limits per client, against a real gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for

pytestmark = pytest.mark.live

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", "accept": "text/html"}
MP_BODY = {
    "client_id": "123.456",
    "events": [{"name": "page_view", "params": {"page_location": "https://shop.example/"}}],
}
LINKS = {"campaign": "c1", "recipient": "sub-1", "urls": ["https://shop.example/"]}


def _issue(gw: LiveGateway, subject: str = "shop") -> str:
    done = run_cli("token", "issue", "--subject", subject, "--scope", "links:write", env=gw.env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _links(gw: LiveGateway, token: str, **headers: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/links", json=LINKS, headers={"authorization": f"Bearer {token}", **headers})


def _secret(gw: LiveGateway, name: str) -> str:
    done = run_cli("ga4", "secret", "issue", "--name", name, env=gw.env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _mp(gw: LiveGateway, secret: str, **headers: str) -> httpx.Response:
    return httpx.post(gw.url + "/mp/collect", params={"measurement_id": "G-TEST", "api_secret": secret},
                      json=MP_BODY, headers=headers)  # fmt: skip


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path / "data")
    yield gateway
    gateway.stop()


def test_a_revoked_token_is_refused_within_seconds_and_others_still_work(gw: LiveGateway) -> None:
    token, other, by_jti = _issue(gw), _issue(gw), _issue(gw)
    assert _links(gw, token).status_code == 200
    done = run_cli("token", "revoke", token, env=gw.env)
    assert done.returncode == 0, done.stderr
    assert token not in done.stdout
    wait_for(lambda: _links(gw, token).status_code == 401, timeout=10)
    assert "revoked" in _links(gw, token).json()["detail"]
    assert _links(gw, other).status_code == 200
    jti = jwt.decode(by_jti, options={"verify_signature": False})["jti"]
    assert run_cli("token", "revoke", jti, env=gw.env).returncode == 0
    wait_for(lambda: _links(gw, by_jti).status_code == 401, timeout=10)
    assert _links(gw, other).status_code == 200
    assert token not in (gw.data_dir / "revoked.sqlite3").read_bytes().decode(errors="replace")
    bad = run_cli("token", "revoke", "not a token", env=gw.env)
    assert bad.returncode == 2


def test_a_revoked_mp_secret_is_refused_within_seconds(gw: LiveGateway) -> None:
    shop, app, crm = _secret(gw, "shop"), _secret(gw, "app"), _secret(gw, "crm")
    assert _mp(gw, shop).status_code == 204
    done = run_cli("ga4", "secret", "revoke", shop, env=gw.env)
    assert done.returncode == 0, done.stderr
    assert shop not in done.stdout
    wait_for(lambda: _mp(gw, shop).status_code == 403, timeout=10)
    assert _mp(gw, shop).json()["error"] == "api_secret has been revoked"
    assert _mp(gw, app).status_code == 204
    assert run_cli("ga4", "secret", "revoke", "crm", env=gw.env).returncode == 0  # every secret of a sender
    wait_for(lambda: _mp(gw, crm).status_code == 403, timeout=10)
    assert _mp(gw, app).status_code == 204
    assert run_cli("ga4", "secret", "revoke", "shop.k1.forged", env=gw.env).returncode == 2


def test_revoked_while_no_gateway_runs_is_refused_from_the_start(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data")
    token, secret = _issue(gw), _secret(gw, "shop")
    gw.stop()
    assert run_cli("token", "revoke", token, env=gw.env).returncode == 0
    assert run_cli("ga4", "secret", "revoke", secret, env=gw.env).returncode == 0
    gw = start_gateway(tmp_path / "data")
    try:
        assert _links(gw, token).status_code == 401
        assert _mp(gw, secret).status_code == 403
    finally:
        gw.stop()


def test_a_burst_of_bad_tokens_gets_429_and_log_lines_without_the_tokens(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_RATE_AUTH_FAILURES="5/minute")
    try:
        good = _issue(gw)
        forged = [good[:-4] + f"{i:04d}" for i in range(8)]  # a guessed signature each time
        answers = [_links(gw, token) for token in forged]
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
        limited = answers[-1]
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["limit"] == "auth_failures"
        assert limited.json()["rate"] == "5 per 1 minute"
        assert _links(gw, good).status_code == 429  # the client is blocked, whatever it sends now
        assert _mp(gw, "x.y.z").status_code == 429
        other = {"x-forwarded-for": "203.0.113.9"}  # another client behind the trusted proxy
        assert _links(gw, good, **other).status_code == 200
        signed = _links(gw, good, **other).json()["links"][0]["tracked"]
        assert httpx.get(gw.url + urlsplit(signed).path, headers=BROWSER).status_code == 302  # clicks go on
        for _ in range(6):  # MP secrets count as failures too
            _mp(gw, "nope.k1.guess", **{"x-forwarded-for": "203.0.113.10"})
        assert _mp(gw, "nope.k1.guess", **{"x-forwarded-for": "203.0.113.10"}).status_code == 429
        log = gw.log()
        failures = [line for line in log.splitlines() if "authentication failed" in line]
        assert len(failures) >= 5 + 5
        assert "client=127.0.0.1 route=/v1/links" in failures[0]
        assert "client=203.0.113.10 route=/mp/collect reason=api_secret not issued by this gateway" in log
        assert not any(token in log for token in [good, *forged])
        assert not any(token[-20:] in log for token in forged)
    finally:
        gw.stop()


def test_api_and_mp_rates_per_client_and_never_on_clicks(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_RATE_API="3/minute", GA4GW_RATE_MP="2/minute")
    try:
        token, secret = _issue(gw), _secret(gw, "shop")
        statuses = [_links(gw, token).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        body = _links(gw, token).json()
        assert (body["error"], body["limit"], body["rate"]) == ("rate_limited", "api", "3 per 1 minute")
        assert _links(gw, token, **{"x-forwarded-for": "198.51.100.7"}).status_code == 200
        assert [_mp(gw, secret).status_code for _ in range(3)] == [204, 204, 429]
        assert json.loads(_mp(gw, secret).text)["limit"] == "mp"
        link = (
            gw.url
            + urlsplit(_links(gw, token, **{"x-forwarded-for": "198.51.100.8"}).json()["links"][0]["tracked"]).path
        )
        assert [httpx.get(link, headers=BROWSER).status_code for _ in range(20)] == [302] * 20
        assert httpx.get(gw.url + "/healthz").status_code == 200
    finally:
        gw.stop()


def test_guessing_analyst_tokens_is_limited_and_logged_too(tmp_path: Path) -> None:
    """The analyst interface authenticates on its own (ClickHouse's protocol): the same failure limit holds."""
    gw = start_gateway(tmp_path / "data", GA4GW_RATE_AUTH_FAILURES="3/minute")
    try:
        good = gw.token("sql:read")
        guesses = [good[:-4] + f"{i:04d}" for i in range(5)]
        answers = [httpx.post(gw.url + "/clickhouse/", content="SELECT 1", auth=("a", g)) for g in guesses]
        assert [a.status_code for a in answers] == [403] * 3 + [429] * 2  # ClickHouse answers 516 with 403
        limited = answers[-1]
        assert limited.headers["x-clickhouse-exception-code"] == "201"  # QUOTA_EXCEEDED
        assert int(limited.headers["retry-after"]) >= 1
        assert "auth_failures" in limited.text
        assert httpx.post(gw.url + "/clickhouse/", content="SELECT 1", auth=("a", good)).status_code == 429
        log = gw.log()
        assert "client=127.0.0.1 route=/clickhouse/" in log
        assert not any(g[-20:] in log for g in guesses)
    finally:
        gw.stop()
