"""IAB TCF v2.2 TC strings: decode the core segment and map it to Google's Consent Mode signals.

The core segment (the part before the first ``.``) is base64url without padding; its fields are
big-endian bit fields, in this order (IAB Tech Lab, "Consent string and vendor list formats v2"):

    Version 6 | Created 36 | LastUpdated 36 (deciseconds since the epoch) | CmpId 12 | CmpVersion 12 |
    ConsentScreen 6 | ConsentLanguage 12 (two letters, 6 bits each, A=0) | VendorListVersion 12 |
    TcfPolicyVersion 6 | IsServiceSpecific 1 | UseNonStandardTexts 1 | SpecialFeatureOptIns 12 |
    PurposesConsent 24 | PurposesLITransparency 24 | PurposeOneTreatment 1 | PublisherCC 12 |
    vendor consent, vendor legitimate interest and publisher restriction sections (not read here)

The mapping to Consent Mode follows Google's documented one and uses *consent* bits only, because
Consent Mode signals are consents:

    ad_storage          <- purpose 1 (store and/or access information on a device)
    analytics_storage   <- purpose 1
    ad_user_data        <- purposes 1 and 7 (7: measure advertising performance)
    ad_personalization  <- purposes 3 and 4 (create and use a personalised advertising profile)

Legitimate interest (``PurposesLITransparency``) never grants a signal. With ``PurposeOneTreatment``
set, purpose 1 was not asked for and its bit is 0; we read that as not granted (the cautious side).
``email_tracking`` is not a TCF purpose: a TC string never decides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import TcfError, TcfVersionError
from .model import ConsentEvent, Purpose

__all__ = ["CORE_BITS", "TCString", "consent_mode_signals", "decode_tc_string", "tcf_events"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_BAD_CHAR = re.compile(r"[^A-Za-z0-9_-]")
_FIELDS: tuple[tuple[str, int], ...] = (
    ("Version", 6), ("Created", 36), ("LastUpdated", 36), ("CmpId", 12), ("CmpVersion", 12),
    ("ConsentScreen", 6), ("ConsentLanguage", 12), ("VendorListVersion", 12), ("TcfPolicyVersion", 6),
    ("IsServiceSpecific", 1), ("UseNonStandardTexts", 1), ("SpecialFeatureOptIns", 12),
    ("PurposesConsent", 24), ("PurposesLITransparency", 24), ("PurposeOneTreatment", 1), ("PublisherCC", 12),
)  # fmt: skip
CORE_BITS = sum(width for _, width in _FIELDS)  # 213: what a core segment needs before its vendor sections

_SIGNALS: dict[Purpose, tuple[int, ...]] = {
    Purpose.AD_STORAGE: (1,),
    Purpose.ANALYTICS_STORAGE: (1,),
    Purpose.AD_USER_DATA: (1, 7),
    Purpose.AD_PERSONALIZATION: (3, 4),
}


@dataclass(frozen=True)
class TCString:
    """The core segment's fields. Purpose and special feature sets hold the ids whose bit is 1."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_li_transparency: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str


def _letters(value: int, field: str) -> str:
    hi, lo = value >> 6, value & 63
    if hi > 25 or lo > 25:
        raise TcfError(field, f"letter codes {hi} and {lo} are not both 0-25 (A-Z)")
    return chr(97 + hi) + chr(97 + lo)


def _ids(value: int, width: int) -> frozenset[int]:
    # The first bit is id 1.
    return frozenset(i + 1 for i in range(width) if value >> (width - 1 - i) & 1)


def _time(deciseconds: int, field: str) -> datetime:
    if deciseconds == 0:
        raise TcfError(field, "is zero (no time set)")
    return datetime.fromtimestamp(deciseconds / 10, UTC)


def decode_tc_string(text: str) -> TCString:
    """Decode a TC string's core segment; raises ``TcfError`` naming the field or part at fault."""
    core = text.strip().split(".", 1)[0].rstrip("=")
    if not core:
        raise TcfError("encoding", "the string is empty")
    bad = _BAD_CHAR.search(core)
    if bad:
        raise TcfError("encoding", f"character {bad.group()!r} at position {bad.start()} is not base64url")
    total = 6 * len(core)
    number = 0
    for char in core:
        number = number << 6 | _VALUE[char]
    if total >= 6 and number >> (total - 6) != 2:
        raise TcfVersionError(number >> (total - 6))
    if total < CORE_BITS:
        raise TcfError("length", f"the core segment holds {total} bits; it needs at least {CORE_BITS}")
    values: dict[str, int] = {}
    offset = 0
    for name, width in _FIELDS:
        values[name] = number >> (total - offset - width) & ((1 << width) - 1)
        offset += width
    return TCString(
        version=values["Version"],
        created=_time(values["Created"], "Created"),
        last_updated=_time(values["LastUpdated"], "LastUpdated"),
        cmp_id=values["CmpId"],
        cmp_version=values["CmpVersion"],
        consent_screen=values["ConsentScreen"],
        consent_language=_letters(values["ConsentLanguage"], "ConsentLanguage"),
        vendor_list_version=values["VendorListVersion"],
        policy_version=values["TcfPolicyVersion"],
        is_service_specific=bool(values["IsServiceSpecific"]),
        use_non_standard_texts=bool(values["UseNonStandardTexts"]),
        special_feature_opt_ins=_ids(values["SpecialFeatureOptIns"], 12),
        purposes_consent=_ids(values["PurposesConsent"], 24),
        purposes_li_transparency=_ids(values["PurposesLITransparency"], 24),
        purpose_one_treatment=bool(values["PurposeOneTreatment"]),
        publisher_cc=_letters(values["PublisherCC"], "PublisherCC").upper(),
    )


def consent_mode_signals(tc: TCString) -> dict[Purpose, bool]:
    """The four Consent Mode signals a TC string grants or denies (mapping in the module docstring)."""
    return {signal: all(p in tc.purposes_consent for p in needs) for signal, needs in _SIGNALS.items()}


def tcf_events(
    subject: str,
    tc_string: str,
    *,
    at: datetime | None = None,
    source: str = "tcf",
    policy_version: str = "",
    event_id: str = "",
) -> list[ConsentEvent]:
    """One ledger event per Consent Mode signal, each carrying the TC string.

    ``at`` defaults to the string's LastUpdated: the moment the person made the choice.
    """
    tc = decode_tc_string(tc_string)
    when = at or tc.last_updated
    return [
        ConsentEvent(subject, purpose, granted, source, when, policy_version, tc_string.strip(),
                     f"{event_id}:{purpose.value}" if event_id else "")
        for purpose, granted in consent_mode_signals(tc).items()
    ]  # fmt: skip
