"""What every matcher returns (``MatchResult``) and the helpers they share."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from catalogue.choices import Ecosystem, SeverityTier
from catalogue.models import Advisory, AdvisoryFix

log = logging.getLogger(__name__)


_RANK = {
    SeverityTier.UNKNOWN: 0,
    SeverityTier.LOW: 1,
    SeverityTier.MEDIUM: 2,
    SeverityTier.HIGH: 3,
    SeverityTier.CRITICAL: 4,
}


@dataclass
class MatchResult:
    """One fix a host lacks. ``cves`` are ordered by EPSS (highest first)."""

    advisory: Advisory
    fix: AdvisoryFix
    cves: list[str]
    fixed_version: str
    reboot_required: bool
    exploited_cves: list[str] = field(default_factory=list)
    package_name: str = ""
    installed_version: str = ""
    rolls_up: list[str] = field(default_factory=list)
    reason: dict = field(default_factory=dict)

    @property
    def patch_identifier(self) -> str:
        """What a finding is keyed by: the KB, or ``package@fixed-version`` for packages."""
        if self.fix.ecosystem == Ecosystem.WINDOWS:
            return self.advisory.identifier
        return f"{self.package_name}@{self.fixed_version}"


def _is_cve(identifier: str) -> bool:
    """A CVE id, not one of MSRC's advisories (``ADV990001``, the servicing-stack list)."""
    return (identifier or "").upper().startswith("CVE-")


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _worst(tiers: Iterable[str]) -> str:
    return max(tiers, key=lambda t: _RANK.get(t, 0), default=SeverityTier.UNKNOWN)
