"""What ``/mp/collect`` keeps of a request's own fields, where, and what it says it did not keep.

Google's request-level fields apply to every event of the request:

==========================  ===============================================  ===========================
field                       warehouse (every event row)                       relayed to GA4
==========================  ===============================================  ===========================
``user_properties``         params ``mp_user_properties`` (JSON)              always
``device``                  params ``mp_device`` (JSON)                       always
``user_agent``              the ``user_agent`` column                          always
``non_personalized_ads``    params ``mp_non_personalized_ads`` (JSON)         always
``user_location``           params ``mp_user_location`` (JSON)                under ``analytics_storage``
``ip_override``             ``ip_truncated`` (/24, /48: as every hit)         under ``analytics_storage``
``user_data``               never                                             under ``ad_user_data``
==========================  ===============================================  ===========================

Emails and phone numbers inside the stored values become their pseudonyms, as in params. The full
``ip_override`` and the hashed ``user_data`` go to the outbox row's private part (``Outbox.append``), which the
pipeline never reads: they live in the outbox and then the delivery ledger until the send.

Nothing is lost silently. ``dropped`` lists what is not kept at all (``X-GA4GW-Dropped``: ``user_data`` without
``ad_user_data``, the full ``ip_override`` without ``analytics_storage``, a ``user_data`` entry that is neither
hashed nor text to hash); ``withheld`` what is kept but not relayed (``X-GA4GW-Withheld``: ``user_location``
without ``analytics_storage``). Consent is asked at the door for the answer; the relay asks again at intake and
before the send, and an event that lost a purpose in between is not sent at all.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consent.egress import has
from gateway.edge.privacy import truncate_ip
from gateway.ga4.messages import DEFAULT_LIMITS
from gateway.ga4.payloads import CONSENT_NEEDS, MP_PARAMS
from gateway.ga4.user_data import prepare
from identity.personal import PersonalData

__all__ = ["DROPPED_HEADER", "WITHHELD_HEADER", "Kept", "keep"]

DROPPED_HEADER = "X-GA4GW-Dropped"
WITHHELD_HEADER = "X-GA4GW-Withheld"
_VALUE_CHARS = DEFAULT_LIMITS.param_value_chars  # a stored JSON value's strings


@dataclass
class Kept:
    """One request's fields as they are kept: warehouse params and columns, the private part, the notes."""

    params: dict[str, str] = field(default_factory=dict)
    user_agent: str = ""
    ip_truncated: str = ""
    private: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # "path;reason=..."
    withheld: list[str] = field(default_factory=list)

    def private_json(self) -> str | None:
        return json.dumps(self.private, separators=(",", ":"), ensure_ascii=False) if self.private else None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.dropped:
            out[DROPPED_HEADER] = ", ".join(self.dropped)
        if self.withheld:
            out[WITHHELD_HEADER] = ", ".join(self.withheld)
        return out


def keep(
    payload: dict[str, Any], mask: int, personal: PersonalData, found: Counter[str], *, v4_prefix: int, v6_prefix: int
) -> Kept:
    """What of ``payload``'s request-level fields is kept, given the purposes ``mask`` grants the person."""
    kept = Kept()
    allowed = {name: has(mask, purpose) for name, purpose in CONSENT_NEEDS.items()}  # the relay's own rule
    for name, param in MP_PARAMS.items():
        if payload.get(name) is None:
            continue
        # A pseudonym is longer than a short address: cut to the field's limit, so the relay's validator still
        # accepts what the door's accepted (a user property value holds 36 characters).
        limit = DEFAULT_LIMITS.user_property_value_chars if name == "user_properties" else _VALUE_CHARS
        value = personal.value(payload[name], found, name, max_chars=limit)
        kept.params[param] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if name == "user_location" and not allowed[name]:
            kept.withheld.append("user_location;reason=consent")
    agent = payload.get("user_agent")
    if isinstance(agent, str) and agent:
        kept.user_agent = personal.text(agent, found, "user_agent")
    address = payload.get("ip_override")
    if isinstance(address, str) and address:
        kept.ip_truncated = truncate_ip(address, v4_prefix, v6_prefix)
        if allowed["ip_override"]:
            kept.private["ip_override"] = address.strip()
        else:
            kept.dropped.append("ip_override;reason=consent")  # only its truncated network part is stored
    if payload.get("user_data") is not None:
        user_data, left = prepare(payload["user_data"])
        kept.dropped += [f"{path};reason=invalid" for path in left]
        if user_data and allowed["user_data"]:
            kept.private["user_data"] = user_data
        elif user_data:
            kept.dropped.append("user_data;reason=consent")
    return kept
