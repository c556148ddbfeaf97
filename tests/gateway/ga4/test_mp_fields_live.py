"""/mp/collect keeps what it is given and relays it under consent; what it does not keep, it says (issue 14).

The attack each test answers: a field sent to the drop-in and silently lost (answered 204, never stored, never
relayed), or a field that must never reach the warehouse (user_data, the full ip_override) found there.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings
from tests.gateway.test_erasure_live import everything, local_stores, query

pytestmark = pytest.mark.live

EMAIL = "Ann.Example@GMail.com"
HASHED_EMAIL = hashlib.sha256(b"annexample@gmail.com").hexdigest()  # Google's rules: lower, no gmail dots
PHONE_HASH = hashlib.sha256(b"+16505551234").hexdigest()
IP = "203.0.113.77"
UA = "Mozilla/5.0 (X11; Linux x86_64) ShopApp/3.1"
DEVICE = {"category": "mobile", "language": "en", "screen_resolution": "1280x2856", "operating_system": "Android",
          "operating_system_version": "14", "model": "Pixel 9 Pro", "brand": "Google", "browser": "Chrome",
          "browser_version": "136.0.7103.60"}  # fmt: skip
LOCATION = {"city": "Mountain View", "region_id": "US-CA", "country_id": "US", "subcontinent_id": "021",
            "continent_id": "019"}  # fmt: skip
PROPERTIES = {"customer_tier": {"value": "gold"}, "newsletter": {"value": "weekly"}}


def body(client_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "user_id": "crm-77",
        "user_properties": PROPERTIES,
        "device": DEVICE,
        "user_agent": UA,
        "user_location": LOCATION,
        "ip_override": IP,
        "non_personalized_ads": False,
        "user_data": {"sha256_email_address": [f"  {EMAIL} "], "sha256_phone_number": ["+1 (650) 555-1234"]},
        "events": [{"name": "sign_up", "params": {"method": "email", "session_id": "1700000000",
                                                   "engagement_time_msec": 20}}],
        **extra,
    }  # fmt: skip


def collect(gw: LiveGateway, payload: dict[str, Any]) -> httpx.Response:
    secret = gw.extra.get("secret") or run_cli("ga4", "secret", "issue", "--name", "shop", env=gw.env).stdout.strip()
    gw.extra["secret"] = secret
    return httpx.post(gw.url + "/mp/collect", params={"measurement_id": "G-TEST123", "api_secret": secret},
                      json=payload)  # fmt: skip


def never_stored(gw: LiveGateway) -> None:
    """No raw email, full IP, or user_data hash in any warehouse table."""
    tables = everything(gw)
    for table, text in tables.items():
        for secret in (EMAIL, EMAIL.lower(), "annexample", IP, HASHED_EMAIL, PHONE_HASH, "6505551234"):
            assert secret not in text, (table, secret)


@pytest.fixture
def granting_gateway(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    gw = start_gateway(tmp_path / "data", **ga4_settings(standin))
    yield gw
    gw.stop()


def test_every_field_is_stored_and_relayed_and_user_data_never_reaches_the_warehouse(
    granting_gateway: LiveGateway, standin: StandIn
) -> None:
    gw = granting_gateway
    answer = collect(gw, body("555.666", consent={"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}))
    assert answer.status_code == 204, answer.text
    assert "x-ga4gw-dropped" not in answer.headers  # everything was kept
    assert "x-ga4gw-withheld" not in answer.headers
    wait_for(lambda: len(standin.events()) == 1)
    [(sent, event)] = standin.events()
    assert sent["user_properties"] == PROPERTIES
    assert sent["device"] == DEVICE
    assert sent["user_agent"] == UA
    assert sent["user_location"] == LOCATION
    assert sent["ip_override"] == IP
    assert sent["non_personalized_ads"] is False
    assert sent["user_data"] == {"sha256_email_address": [HASHED_EMAIL], "sha256_phone_number": [PHONE_HASH]}
    assert sent["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}
    assert sent["client_id"] == "555.666"
    assert sent["user_id"].startswith("us_")
    assert event["name"] == "sign_up"

    wait_for(lambda: query(gw, "SELECT count() FROM events WHERE source = 'mp'") == "1")
    row = json.loads(query(gw, "SELECT user_agent, ip_truncated, params FROM events WHERE source = 'mp' "
                               "FORMAT JSONEachRow"))  # fmt: skip
    assert row["user_agent"] == UA
    assert row["ip_truncated"] == "203.0.113.0"
    params = row["params"]
    assert json.loads(params["mp_user_properties"]) == PROPERTIES
    assert json.loads(params["mp_device"]) == DEVICE
    assert json.loads(params["mp_user_location"]) == LOCATION
    assert json.loads(params["mp_non_personalized_ads"]) is False
    never_stored(gw)
    # Sent: the ledger's copy of the body lost user_data and the full IP; the outbox holds nothing of them.
    wait_for(lambda: HASHED_EMAIL not in local_stores(gw.data_dir))
    assert IP not in local_stores(gw.data_dir)
    ledger = sqlite3.connect(gw.data_dir / "ga4_ledger.sqlite3")
    [(state, stored_body)] = ledger.execute("SELECT state, body FROM deliveries").fetchall()
    assert state == "sent"
    assert json.loads(stored_body)["user_properties"] == PROPERTIES  # the rest of the request is still there


def test_without_ad_user_data_user_data_is_dropped_and_the_answer_says_so(
    granting_gateway: LiveGateway, standin: StandIn
) -> None:
    gw = granting_gateway
    answer = collect(gw, body("777.888", consent={"ad_user_data": "DENIED", "ad_personalization": "DENIED"}))
    assert answer.status_code == 204
    assert answer.headers["x-ga4gw-dropped"] == "user_data;reason=consent"
    wait_for(lambda: len(standin.events()) == 1)
    [(sent, _)] = standin.events()
    assert "user_data" not in sent
    assert sent["user_properties"] == PROPERTIES  # the rest goes
    assert sent["ip_override"] == IP
    wait_for(lambda: query(gw, "SELECT count() FROM events WHERE source = 'mp'") == "1")
    never_stored(gw)
    assert HASHED_EMAIL not in local_stores(gw.data_dir)


def test_without_analytics_storage_location_and_ip_stay_home_and_the_answer_says_so(
    tmp_path: Path, standin: StandIn
) -> None:
    # No default region: unknown counts as opt-in, so analytics_storage is denied until granted; the request grants
    # ad_user_data itself.
    settings = ga4_settings(standin)
    del settings["GA4GW_CONSENT_DEFAULT_REGION"]
    gw = start_gateway(tmp_path / "data", **settings)
    try:
        payload = body("999.111", consent={"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"})
        del payload["user_location"]["country_id"]  # the country would make the region, and the US is opt-out
        answer = collect(gw, payload)
        assert answer.status_code == 204
        assert answer.headers["x-ga4gw-dropped"] == "ip_override;reason=consent"
        assert answer.headers["x-ga4gw-withheld"] == "user_location;reason=consent"
        wait_for(lambda: len(standin.events()) == 1)
        [(sent, _)] = standin.events()
        assert "user_location" not in sent
        assert "ip_override" not in sent
        assert "user_id" not in sent  # nothing that identifies the person
        assert sent["client_id"] != "999.111"
        assert sent["user_properties"] == PROPERTIES
        assert sent["device"] == DEVICE
        assert sent["user_data"]["sha256_email_address"] == [HASHED_EMAIL]
        wait_for(lambda: query(gw, "SELECT count() FROM events WHERE source = 'mp'") == "1")
        stored = json.loads(query(gw, "SELECT ip_truncated, params FROM events FORMAT JSONEachRow"))
        assert stored["ip_truncated"] == "203.0.113.0"  # truncated, as every hit
        assert json.loads(stored["params"]["mp_user_location"])["city"] == "Mountain View"  # kept, not relayed
        never_stored(gw)
    finally:
        gw.stop()


def test_user_data_that_cannot_be_hashed_is_refused_naming_the_field(granting_gateway: LiveGateway) -> None:
    gw = granting_gateway
    answer = collect(gw, body("555.666", user_data={"sha256_email_address": [42], "sha256_phone_number": ["x"]}))
    assert answer.status_code == 400
    paths = {m["fieldPath"] for m in answer.json()["validationMessages"]}
    assert paths == {"user_data.sha256_email_address[0]", "user_data.sha256_phone_number[0]"}
    assert query(gw, "SELECT count() FROM events") == "0"


def test_user_data_is_erased_with_the_person_named_by_email(tmp_path: Path, standin: StandIn) -> None:
    # Dry run: the request waits in the ledger with its user_data. The event names the person only by a client id
    # the identity graph never joined to the email; the hashed email is what finds it.
    gw = start_gateway(tmp_path / "data", GA4GW_GA4_BATCH_DELAY="0.1", GA4GW_CONSENT_DEFAULT_REGION="US")
    try:
        payload = body("555.666", consent={"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"})
        del payload["user_id"]
        assert collect(gw, payload).status_code == 204
        wait_for(lambda: json.loads(run_cli("ga4", "status", "--json", env=gw.env).stdout)["queued_deliveries"] == 1)
        assert HASHED_EMAIL in local_stores(gw.data_dir)  # in the ledger until sent
        erased = httpx.post(gw.url + "/v1/erasure", json={"email": EMAIL},
                            headers={"authorization": f"Bearer {gw.token('erasure:write')}"}, timeout=120)  # fmt: skip
        assert erased.status_code == 200, erased.text
        assert erased.json()["rows"]["ga4_ledger.deliveries"] == 1
        left = local_stores(gw.data_dir)
        assert HASHED_EMAIL not in left
        assert IP not in left
    finally:
        gw.stop()


def test_the_debug_endpoint_names_what_goes_only_under_consent_and_no_persons_decision(
    granting_gateway: LiveGateway,
) -> None:
    gw = granting_gateway
    payload = body("555.666", user_data={"sha256_email_address": [HASHED_EMAIL]})
    answer = httpx.post(gw.url + "/debug/mp/collect", json=payload)
    assert answer.json() == {"validationMessages": []}
    assert answer.headers["x-ga4gw-consent-needed"] == (
        "user_location;needs=analytics_storage, ip_override;needs=analytics_storage, user_data;needs=ad_user_data"
    )
    plain = httpx.post(gw.url + "/debug/mp/collect", json={"client_id": "1.2", "events": [{"name": "x_y"}]})
    assert "x-ga4gw-consent-needed" not in plain.headers
    deep = httpx.post(gw.url + "/debug/mp/collect", content=b"[" * 100_000)
    assert deep.status_code == 200
    assert deep.json()["validationMessages"]


def test_an_email_in_a_user_property_becomes_a_pseudonym_that_still_fits_and_is_relayed(
    granting_gateway: LiveGateway, standin: StandIn
) -> None:
    gw = granting_gateway
    payload = body("555.666", user_properties={"contact": {"value": "jo@shopmail.com"}})
    del payload["user_data"]
    assert collect(gw, payload).status_code == 204
    wait_for(lambda: len(standin.events()) == 1)  # not dead-lettered by the relay's validator
    [(sent, _)] = standin.events()
    value = sent["user_properties"]["contact"]["value"]
    assert value.startswith("em_")
    assert len(value) <= 36
    wait_for(lambda: query(gw, "SELECT count() FROM events WHERE source = 'mp'") == "1")
    for table, text in everything(gw).items():
        assert "jo@shopmail.com" not in text, table
