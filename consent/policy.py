"""The default answer when a subject has made no decision: opt-in regions deny until granted.

In the EEA, the UK and Switzerland (ePrivacy, GDPR, UK GDPR, revFADP) tracking and ad signals need
consent first; elsewhere the default is granted until denied. Both defaults can be changed per
purpose. A subject whose region is unknown is treated as in an opt-in region: the cautious reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import InvalidConsent
from .model import Purpose, parse_purposes

__all__ = ["OPT_IN_REGIONS", "ConsentPolicy", "parse_regions"]

# EU 27 + Iceland, Liechtenstein, Norway (EEA) + United Kingdom + Switzerland; ISO 3166-1 alpha-2.
OPT_IN_REGIONS: frozenset[str] = frozenset(
    ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
     "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "GB", "CH")
)  # fmt: skip
_REGION = re.compile(r"^[A-Z]{2}$")


def parse_regions(text: str) -> frozenset[str]:
    """Read comma-separated ISO 3166-1 alpha-2 country codes (``UK`` is taken as ``GB``)."""
    regions = set()
    for item in text.split(","):
        code = item.strip().upper()
        if not code:
            continue
        if not _REGION.match(code):
            raise InvalidConsent(f"{item.strip()!r} is not a two-letter country code")
        regions.add("GB" if code == "UK" else code)
    return frozenset(regions)


@dataclass(frozen=True)
class ConsentPolicy:
    """Defaults per region and purpose. ``version`` is recorded with events given under this policy."""

    opt_in_regions: frozenset[str] = OPT_IN_REGIONS
    granted_in_opt_in: frozenset[Purpose] = field(default_factory=frozenset)  # granted by default even there
    denied_elsewhere: frozenset[Purpose] = field(default_factory=frozenset)  # denied by default even elsewhere
    version: str = ""

    @classmethod
    def from_names(
        cls,
        opt_in_regions: Iterable[str],
        granted_in_opt_in: Iterable[str] = (),
        denied_elsewhere: Iterable[str] = (),
        version: str = "",
    ) -> ConsentPolicy:
        """Build a policy from settings' names (``GA4GW_CONSENT_*``); unknown names raise ``InvalidConsent``."""
        return cls(
            opt_in_regions=parse_regions(",".join(opt_in_regions)),
            granted_in_opt_in=parse_purposes(",".join(granted_in_opt_in)),
            denied_elsewhere=parse_purposes(",".join(denied_elsewhere)),
            version=version,
        )

    def is_opt_in(self, region: str) -> bool:
        """True for opt-in regions and for an unknown (empty) region."""
        code = region.strip().upper()
        return not code or ("GB" if code == "UK" else code) in self.opt_in_regions

    def default(self, purpose: Purpose, region: str) -> tuple[bool, str]:
        """(granted, rule) for a subject without a decision; rule is ``opt_in`` or ``opt_out``."""
        if self.is_opt_in(region):
            return purpose in self.granted_in_opt_in, "opt_in"
        return purpose not in self.denied_elsewhere, "opt_out"
