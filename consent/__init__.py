"""Consent: purposes, the append-only ledger, the in-memory snapshot, default policy per region, TCF v2.2, erasure.

The gateway records ``ConsentEvent``s (API, MP ``consent`` field, unsubscribes, TC strings) with
``ConsentLedger``, keeps a ``ConsentSnapshot`` in memory for the hot path and asks it ``decide``.
``erase_subject`` deletes every warehouse row naming a person (``Subject``) and ``record_audit``
keeps the record of it. It may import ``warehouse`` only.
"""

from .erasure import AuditRecord, Subject, erase_subject, new_erasure_id, record_audit, subject_events
from .errors import ConsentError, ErasureStepFailed, InvalidConsent, TcfError, TcfVersionError
from .ledger import ConsentLedger, load_snapshot
from .model import SOURCES, ConsentEvent, Purpose, parse_purposes, unsubscribe_event
from .policy import OPT_IN_REGIONS, ConsentPolicy, parse_regions
from .snapshot import ConsentSnapshot, Decision
from .tcf import TCString, consent_mode_signals, decode_tc_string, tcf_events

__all__ = [
    "OPT_IN_REGIONS",
    "SOURCES",
    "AuditRecord",
    "ConsentError",
    "ConsentEvent",
    "ConsentLedger",
    "ConsentPolicy",
    "ConsentSnapshot",
    "Decision",
    "ErasureStepFailed",
    "InvalidConsent",
    "Purpose",
    "Subject",
    "TCString",
    "TcfError",
    "TcfVersionError",
    "consent_mode_signals",
    "decode_tc_string",
    "erase_subject",
    "load_snapshot",
    "new_erasure_id",
    "parse_purposes",
    "parse_regions",
    "record_audit",
    "subject_events",
    "tcf_events",
    "unsubscribe_event",
]
