"""A touch's channels: its own (``google / cpc``, ``email``, ``direct``) and GA4's default channel group.

Both are SQL expressions over a touch's source, medium and campaign name, computed when the journeys are built
(``journeys.py``) and stored on each touch, so a report can sum credits by either and set the second beside GA4's
own acquisition reports.

**Direct.** GA4 writes a visit without a source as ``(direct) / (none)``; shops and exports also send an empty
source or medium and ``(not set)``. A visit whose source is empty, ``(direct)``, ``direct`` or ``(not set)`` and
whose medium is empty, ``(none)`` or ``(not set)`` is ``direct`` (GA4: Direct), whatever case it is written in.

**Default channel group.** Google's rules (https://support.google.com/analytics/answer/9756891), taken in the
order of GA4's system-defined "Default Channel Group" (the first rule that holds wins), case-insensitive:

    Direct            source (direct) and medium (not set) or (none)
    Cross-network     campaign name contains "cross-network"
    Paid Shopping     (source is a shopping site or campaign name matches ^(.*(([^a-df-z]|^)shop|shopping).*)$)
                      and medium matches ^(.*cp.*|ppc|retargeting|paid.*)$
    Paid Search       source is a search site and the medium is paid (the regex above)
    Paid Social       source is a social site and the medium is paid
    Paid Video        source is a video site and the medium is paid
    Display           medium is display, banner, expandable, interstitial or cpm
    Paid Other        the medium is paid
    Organic Shopping  source is a shopping site or the campaign name matches the shopping regex
    Organic Social    source is a social site or medium is social, social-network, social-media, sm,
                      "social network" or "social media"
    Organic Video     source is a video site or medium matches ^(.*video.*)$
    Organic Search    source is a search site or medium is organic
    Referral          medium is referral, app or link
    Email             source or medium is email, e-mail, e_mail or "e mail"
    Affiliates        medium is affiliate
    Audio             medium is audio
    SMS               source or medium is sms
    Mobile Push Notifications   medium ends with push, or contains mobile or notification, or source is firebase
    Unassigned        none of the above

The site lists are Google's (``ga4_source_categories.json``, with where it was taken from); a source matches when
it equals a listed name. Rules on Google Ads' own fields (ad network, gclid auto-tagging) cannot apply: the
gateway sees only source, medium and campaign. An email open or click is Email; a conversion without any touch
is ``(none)`` in both dimensions.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "DEFAULT_CHANNEL_GROUPS",
    "DIRECT_MEDIUMS",
    "DIRECT_SOURCES",
    "SITE_LISTS",
    "default_channel_sql",
    "is_direct_sql",
    "site_params",
]

DIRECT_SOURCES: tuple[str, ...] = ("", "(direct)", "direct", "(not set)")
DIRECT_MEDIUMS: tuple[str, ...] = ("", "(none)", "(not set)")

DEFAULT_CHANNEL_GROUPS: tuple[str, ...] = (
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Referral",
    "Email",
    "Affiliates",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "Unassigned",
)

_DATA = json.loads(Path(__file__).with_name("ga4_source_categories.json").read_text(encoding="utf-8"))
SITE_LISTS: dict[str, tuple[str, ...]] = {
    kind: tuple(sorted({name.lower() for name in _DATA[kind]})) for kind in ("search", "social", "shopping", "video")
}

_PAID = "match({m}, '^(.*cp.*|ppc|retargeting|paid.*)$')"
_SHOP_CAMPAIGN = "match({c}, '^(.*(([^a-df-z]|^)shop|shopping).*)$')"
_EMAIL = "('email', 'e-mail', 'e_mail', 'e mail')"


def _quoted(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values) + ")"


def is_direct_sql(source: str, medium: str) -> str:
    """SQL true when a visit of lower-cased ``source`` and ``medium`` (column expressions) is direct."""
    return f"({source} IN {_quoted(DIRECT_SOURCES)} AND {medium} IN {_quoted(DIRECT_MEDIUMS)})"


def site_params() -> dict[str, list[str]]:
    """The typed parameters ``default_channel_sql`` reads (``{dcg_search:Array(String)}``...)."""
    return {f"dcg_{kind}": list(names) for kind, names in SITE_LISTS.items()}


def default_channel_sql(source: str, medium: str, campaign: str) -> str:
    """GA4's default channel group of lower-cased ``source``, ``medium`` and ``campaign`` (column expressions).

    The site lists travel as typed parameters (``site_params``), never spliced into the statement.
    """
    s, m, c = source, medium, campaign
    paid = _PAID.format(m=m)
    shop = f"(has({{dcg_shopping:Array(String)}}, {s}) OR {_SHOP_CAMPAIGN.format(c=c)})"
    search = f"has({{dcg_search:Array(String)}}, {s})"
    social = f"has({{dcg_social:Array(String)}}, {s})"
    video = f"has({{dcg_video:Array(String)}}, {s})"
    rules = [
        (is_direct_sql(s, m), "Direct"),
        (f"position({c}, 'cross-network') > 0", "Cross-network"),
        (f"{shop} AND {paid}", "Paid Shopping"),
        (f"{search} AND {paid}", "Paid Search"),
        (f"{social} AND {paid}", "Paid Social"),
        (f"{video} AND {paid}", "Paid Video"),
        (f"{m} IN ('display', 'banner', 'expandable', 'interstitial', 'cpm')", "Display"),
        (paid, "Paid Other"),
        (shop, "Organic Shopping"),
        (
            f"{social} OR {m} IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media')",
            "Organic Social",
        ),
        (f"{video} OR match({m}, '^(.*video.*)$')", "Organic Video"),
        (f"{search} OR {m} = 'organic'", "Organic Search"),
        (f"{m} IN ('referral', 'app', 'link')", "Referral"),
        (f"{s} IN {_EMAIL} OR {m} IN {_EMAIL}", "Email"),
        (f"{m} = 'affiliate'", "Affiliates"),
        (f"{m} = 'audio'", "Audio"),
        (f"{s} = 'sms' OR {m} = 'sms'", "SMS"),
        (
            f"endsWith({m}, 'push') OR position({m}, 'mobile') > 0 OR position({m}, 'notification') > 0 "
            f"OR {s} = 'firebase'",
            "Mobile Push Notifications",
        ),
    ]
    arms = ", ".join(f"{condition}, '{name}'" for condition, name in rules)
    return f"multiIf({arms}, 'Unassigned')"
