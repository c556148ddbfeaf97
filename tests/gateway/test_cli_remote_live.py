"""Commands through the running gateway (issue 16, found 2 and 4): a gateway whose port and environment differ
from the shell's is the one that answers ``ga4gw settings``, signs ``ga4gw links sign`` / ``rewrite`` and explains
``ga4gw identity explain``; with none running the same commands work on the data directory and say so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveGateway, clean_env, run_cli, start_gateway

pytestmark = pytest.mark.live


def _start(data_dir: Path) -> LiveGateway:
    """A gateway on a free port, with no GA4GW_PUBLIC_URL (it follows the port) and settings of its own."""
    return start_gateway(data_dir, GA4GW_UTM_SOURCE="gateway-own-source", GA4GW_GA4_API_SECRET="gateway-secret-0451",
                         GA4GW_PIPELINE_MAX_DELAY="0.1")  # fmt: skip


_EMAIL = "jane.remote@example.com"
_CLIENT = "424242.1700000000"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = _start(tmp_path_factory.mktemp("remote") / "data")
    token = gateway.token("events:write")
    event = {"name": "sign_up", "email": _EMAIL, "client_id": _CLIENT}
    answer = httpx.post(gateway.url + "/v1/events", json={"events": [event]},
                        headers={"authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    yield gateway
    gateway.stop()


def _cli_env(gw: LiveGateway) -> dict[str, str]:
    """The operator's shell: the gateway's data directory, and nothing else of its environment."""
    return clean_env(GA4GW_DATA_DIR=str(gw.data_dir))


def test_the_public_url_follows_the_port_unless_set(gw: LiveGateway) -> None:
    assert not gw.url.endswith(":8080")
    shown = run_cli("settings", env=_cli_env(gw))
    assert shown.returncode == 0, shown.stderr
    assert f"GA4GW_PUBLIC_URL={gw.url}\n" in shown.stdout


def test_settings_are_the_running_gateways_with_secrets_masked(gw: LiveGateway) -> None:
    shown = run_cli("settings", env=_cli_env(gw))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"# the settings of the gateway (pid {gw.proc.pid}) at {gw.url}")
    assert f"GA4GW_PORT={gw.url.rsplit(':', 1)[1]}\n" in shown.stdout
    assert "GA4GW_UTM_SOURCE=gateway-own-source\n" in shown.stdout
    assert "GA4GW_GA4_API_SECRET=(set)\n" in shown.stdout
    assert "GA4GW_GA4_RELAY_VERDICTS=human,image_proxy\n" in shown.stdout  # as the environment writes it
    assert "gateway-secret-0451" not in shown.stdout + shown.stderr
    # The route itself: admin only.
    refused = httpx.get(gw.url + "/v1/settings", headers={"authorization": f"Bearer {gw.token('links:write')}"})
    assert refused.status_code == 403


def test_links_are_signed_for_the_running_gateway(gw: LiveGateway) -> None:
    signed = run_cli("links", "sign", "--campaign", "c-remote", "--recipient", "sub-7", "https://shop.example/a",
                     env=_cli_env(gw))  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    tracked = signed.stdout.strip()
    assert tracked.startswith(gw.url + "/c/")
    click = httpx.get(tracked, follow_redirects=False)
    assert click.status_code == 302
    assert click.headers["location"].startswith("https://shop.example/a?")
    assert "utm_source=gateway-own-source" in click.headers["location"]  # the gateway's own settings signed it

    html = '<html><body><a href="https://shop.example/b">b</a></body></html>'
    rewritten = run_cli("rewrite", "--campaign", "c-remote", "--recipient", "sub-7", stdin=html, env=_cli_env(gw))
    assert rewritten.returncode == 0, rewritten.stderr
    assert f'href="{gw.url}/c/' in rewritten.stdout
    assert f'src="{gw.url}/o/' in rewritten.stdout
    assert "1 links tracked, 0 left untracked, pixel added" in rewritten.stderr

    outside = run_cli("links", "sign", "--campaign", "", "--recipient", "r", "https://shop.example/", env=_cli_env(gw))
    assert outside.returncode == 2
    assert "campaign" in outside.stderr


def _explain(gw: LiveGateway, identifier: str) -> str:
    deadline = time.monotonic() + 30
    while True:  # the event's edges reach the graph once the pipeline wrote them
        result = run_cli("identity", "explain", identifier, env=_cli_env(gw))
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, result.stderr
            return result.stdout
        time.sleep(0.2)


def test_identity_explain_asks_the_running_gateway_and_takes_raw_values(gw: LiveGateway) -> None:
    by_email = _explain(gw, f"email:{_EMAIL}")
    assert f"ga_client:{_CLIENT}" in by_email
    assert "jane" not in by_email  # only pseudonyms
    assert f"client_id   {_CLIENT}" in _explain(gw, f"ga_client:{_CLIENT}")
    unknown = run_cli("identity", "explain", "email:nobody@example.com", env=_cli_env(gw))
    assert unknown.returncode == 1
    assert "no edge names the email given" in unknown.stderr
    assert "nobody" not in unknown.stderr
    # The route itself: its own scope, and a bad identifier named as a field without repeating it.
    route = gw.url + "/v1/identity/explain"
    assert httpx.get(route, params={"identifier": f"ga_client:{_CLIENT}"},
                     headers={"authorization": f"Bearer {gw.token('links:write')}"}).status_code == 403  # fmt: skip
    bad = httpx.get(route, params={"identifier": "phone:jane@example.com"},
                    headers={"authorization": f"Bearer {gw.token('identity:read')}"})  # fmt: skip
    assert bad.status_code == 422
    assert "identifier" in bad.json()["fields"]
    assert "jane" not in bad.text


def test_without_a_gateway_the_same_commands_work_and_say_so(tmp_path: Path) -> None:
    gw = _start(tmp_path / "data")
    token = gw.token("events:write")
    event = {"name": "sign_up", "email": _EMAIL, "client_id": _CLIENT}
    httpx.post(gw.url + "/v1/events", json={"events": [event]}, headers={"authorization": f"Bearer {token}"})
    _explain(gw, f"ga_client:{_CLIENT}")  # stored, and in the graph
    gw.stop()

    env = _cli_env(gw)
    shown = run_cli("settings", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"# no gateway runs on {gw.data_dir}")
    assert "GA4GW_PORT=8080\n" in shown.stdout  # the shell's own, and it says so
    explained = run_cli("identity", "explain", f"email:{_EMAIL}", env=env)
    assert explained.returncode == 0, explained.stderr
    assert f"ga_client:{_CLIENT}" in explained.stdout
    assert "jane" not in explained.stdout + explained.stderr
    signed = run_cli("links", "sign", "--campaign", "c1", "--recipient", "sub-1", "https://shop.example/", env=env)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.startswith("http://127.0.0.1:8080/c/")  # this shell's GA4GW_PUBLIC_URL ...
    assert "no gateway runs on" in signed.stderr  # ... and a line saying why
