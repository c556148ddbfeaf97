"""Consent: purposes, the append-only ledger, the in-memory snapshot, default policy per region, TCF v2.2.

The gateway records ``ConsentEvent``s (API, MP ``consent`` field, unsubscribes, TC strings) with
``ConsentLedger``, keeps a ``ConsentSnapshot`` in memory for the hot path and asks it ``decide``.
It may import ``warehouse`` only.
"""

from .errors import ConsentError, InvalidConsent, TcfError, TcfVersionError
from .ledger import ConsentLedger, load_snapshot
from .model import SOURCES, ConsentEvent, Purpose, parse_purposes, unsubscribe_event
from .policy import OPT_IN_REGIONS, ConsentPolicy, parse_regions
from .snapshot import ConsentSnapshot, Decision
from .tcf import TCString, consent_mode_signals, decode_tc_string, tcf_events

__all__ = [
    "OPT_IN_REGIONS",
    "SOURCES",
    "ConsentError",
    "ConsentEvent",
    "ConsentLedger",
    "ConsentPolicy",
    "ConsentSnapshot",
    "Decision",
    "InvalidConsent",
    "Purpose",
    "TCString",
    "TcfError",
    "TcfVersionError",
    "consent_mode_signals",
    "decode_tc_string",
    "load_snapshot",
    "parse_purposes",
    "parse_regions",
    "tcf_events",
    "unsubscribe_event",
]
