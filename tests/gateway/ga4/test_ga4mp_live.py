"""A real third-party MP client (ga4mp, PyPI) pointed at the gateway: what it sends reaches the stand-in whole.

ga4mp builds its URL from ``_base_domain`` (``https://www.google-analytics.com/mp/collect`` in its source,
``ga4mp/ga4mp.py``); pointing that attribute at the gateway is all a user of the library has to change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ga4mp import GtagMP

from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings
from tests.gateway.test_erasure_live import everything, query

pytestmark = pytest.mark.live

CLIENT_ID = "0012345678.1764300000"  # zero-padded, as ga4mp's random_client_id() gives one time in ten
CONTACT = "ann.example@shop.example"


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path / "data", **ga4_settings(standin))
    yield gateway
    gateway.stop()


def test_ga4mp_page_view_purchase_user_properties_and_a_custom_event_arrive_field_by_field(
    gw: LiveGateway, standin: StandIn
) -> None:
    secret = run_cli("ga4", "secret", "issue", "--name", "ga4mp", env=gw.env).stdout.strip()
    ga = GtagMP(api_secret=secret, measurement_id="G-TEST123", client_id=CLIENT_ID)
    ga._base_domain = gw.url + "/mp/collect"
    ga.store.set_user_property("customer_tier", "gold")
    ga.store.set_user_property("user_id", "crm-31337")
    ga.store.set_user_property("non_personalized_ads", True)

    page_view = ga.create_new_event("page_view")
    page_view.set_event_param("page_location", "https://shop.example/sale?utm_source=news")
    page_view.set_event_param("page_title", "Winter sale")
    purchase = ga.create_new_event("purchase")
    purchase.set_event_param("transaction_id", "T-9001")
    purchase.set_event_param("currency", "EUR")
    purchase.set_event_param("value", 59.9)
    item = purchase.create_new_item(item_id="SKU-1", item_name="Wool hat")
    item.set_parameter("price", 29.95)
    item.set_parameter("quantity", 2)
    purchase.add_item_to_event(item)
    custom = ga.create_new_event("newsletter_signup")
    custom.set_event_param("list", "weekly")
    custom.set_event_param("contact", CONTACT)  # an email in a param: only its pseudonym may go anywhere
    ga.send([page_view, purchase, custom])

    wait_for(lambda: len(standin.events()) == 3)
    arrived = standin.events()
    assert [e["name"] for _, e in arrived] == ["page_view", "purchase", "newsletter_signup"]
    for sent, event in arrived:
        assert sent["client_id"] == CLIENT_ID
        assert sent["user_id"].startswith("us_")  # the gateway's pseudonym of crm-31337, never the raw id
        assert sent["user_properties"] == {"customer_tier": {"value": "gold"}}
        assert sent["non_personalized_ads"] is True
        params = event["params"]
        assert params["session_id"] == ga.store.get_session_parameter("session_id")
        assert isinstance(params["engagement_time_msec"], int)
        assert event["timestamp_micros"] > 0
    (_, view), (_, bought), (_, signup) = arrived
    assert view["params"]["page_location"] == "https://shop.example/sale?utm_source=news"
    assert view["params"]["page_title"] == "Winter sale"
    assert bought["params"]["transaction_id"] == "T-9001"
    assert bought["params"]["currency"] == "EUR"
    assert bought["params"]["value"] == 59.9
    assert bought["params"]["items"] == [{"item_id": "SKU-1", "item_name": "Wool hat", "price": 29.95, "quantity": 2}]
    assert signup["params"]["list"] == "weekly"
    assert signup["params"]["contact"].startswith("em_")
    assert all(r.measurement_id == "G-TEST123" and r.secret_ok for r in standin.requests())
    assert CONTACT not in json.dumps([r.body for r in standin.requests()])

    wait_for(lambda: query(gw, "SELECT count() FROM events WHERE source = 'mp'") == "3")
    stored = query(gw, "SELECT event_name, transaction_id, toString(value), ga_client_id, "
                       "params['mp_user_properties'], params['mp_non_personalized_ads'] FROM events "
                       "WHERE source = 'mp' ORDER BY event_name")  # fmt: skip
    assert stored.splitlines() == [
        f'newsletter_signup\t\t0\t{CLIENT_ID}\t{{"customer_tier":{{"value":"gold"}}}}\ttrue',
        f'page_view\t\t0\t{CLIENT_ID}\t{{"customer_tier":{{"value":"gold"}}}}\ttrue',
        f'purchase\tT-9001\t59.9\t{CLIENT_ID}\t{{"customer_tier":{{"value":"gold"}}}}\ttrue',
    ]
    for table, text in everything(gw).items():
        assert CONTACT not in text, table
        assert "crm-31337" not in text, table
