"""The consent settings: the default policy per region and how the edge and the relay apply it."""

from __future__ import annotations

import re

from consent import OPT_IN_REGIONS

from . import parsers as p
from .parsers import SettingSpec

__all__ = ["CONSENT_SPECS"]

_HEADER = re.compile(r"^[a-z0-9-]{0,64}$")


def _header(value: str) -> str:
    value = value.strip().lower()
    if not _HEADER.match(value):
        raise ValueError("a header name is letters, digits and dashes")
    return value


def _region(value: str) -> str:
    codes = p.regions(value)
    if len(codes) > 1:
        raise ValueError("one country code")
    return codes[0] if codes else ""


CONSENT_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "consent_opt_in_regions",
        p.regions,
        ",".join(sorted(OPT_IN_REGIONS)),
        "Country codes where every purpose is denied until granted (EEA, UK, Switzerland); elsewhere purposes "
        "are granted until denied. An unknown region counts as opt-in.",
        "comma-separated two-letter country codes",
    ),
    SettingSpec(
        "consent_granted_in_opt_in",
        p.purposes,
        "",
        "Purposes granted by default even in opt-in regions (email_tracking, analytics_storage, ad_storage, "
        "ad_user_data, ad_personalization).",
        "comma-separated purpose names",
    ),
    SettingSpec(
        "consent_denied_elsewhere",
        p.purposes,
        "",
        "Purposes denied by default even outside opt-in regions.",
        "comma-separated purpose names",
    ),
    SettingSpec(
        "consent_default_region",
        _region,
        "",
        "The country assumed for a person whose region is not known (empty: unknown, which counts as opt-in).",
        "a two-letter country code, or empty",
    ),
    SettingSpec(
        "consent_region_header",
        _header,
        "",
        "A request header that carries the visitor's country, set by the CDN in front of the gateway (e.g. "
        "cf-ipcountry, cloudfront-viewer-country). Empty: GA4GW_CONSENT_DEFAULT_REGION.",
        "a header name, or empty",
    ),
    SettingSpec(
        "consent_personal_links",
        p.boolean,
        "true",
        "A link the sending module signed in personal mode is its record that the recipient granted "
        "email_tracking (asked at sign-up); the ledger's own decisions (withdrawals, unsubscribes) still win. "
        "false: without a decision in the ledger, the region's default applies.",
        "true or false",
    ),
    SettingSpec(
        "consent_untracked",
        p.choice("anonymous", "drop"),
        "anonymous",
        "An open or click of a recipient without email_tracking: anonymous keeps campaign and link only (no "
        "recipient, client id, IP or user agent); drop records nothing. The person gets the GIF or redirect.",
        "anonymous or drop",
    ),
    SettingSpec(
        "consent_analytics_denied",
        p.choice("anonymous", "drop"),
        "anonymous",
        "An event of a person without analytics_storage: anonymous sends it to GA4 with nothing that "
        "identifies the person (no user_id, a one-off client_id); drop sends nothing.",
        "anonymous or drop",
    ),
    SettingSpec(
        "consent_policy_version",
        p.text,
        "",
        "The version of the consent text shown to people, recorded with decisions that do not name their own.",
        "any text",
    ),
    SettingSpec(
        "consent_refresh",
        p.float_positive,
        "10",
        "Seconds between looks at the consent ledger for decisions other gateway instances recorded.",
        "a positive number of seconds",
    ),
)
