"""The SLA clock: deployment windows per asset class × severity tier, and the default policy.

``due_at = detected_at + window(asset class, tier)`` (DESIGN, Finding). Windows are **absolute
hours**: a 24 h window that spans a daylight-saving change in the client's time zone still ends
exactly 24 elapsed hours after detection. A finding is overdue strictly after ``due_at``
(``now > due_at``): at ``due_at`` itself it is still within its window.

Default policy seeded in every client (DESIGN examples marked *):

========  ==========================  ===============  ===============
tier      core server                 workstation      do not disrupt
========  ==========================  ===============  ===============
critical  24 h, scheduled Sun 02:00*  48 h, prompted   72 h, manual
high      72 h, scheduled Sun 02:00   7 d, prompted*   7 d, manual
medium    14 d, scheduled Sun 02:00   14 d, prompted   30 d, manual*
low       30 d, scheduled Sun 02:00   30 d, prompted   30 d, manual*
unknown   14 d, scheduled Sun 02:00   14 d, prompted   30 d, manual
========  ==========================  ===============  ===============

``unknown`` (no vendor severity reported) is treated like medium. An asset class a client adds
itself and has no rule for falls back to the workstation column (``FALLBACK_WINDOW_HOURS``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from .choices import RebootPolicy, SeverityTier

__all__ = [
    "DEFAULT_REBOOT_POLICY",
    "DEFAULT_RULES",
    "FALLBACK_WINDOW_HOURS",
    "SUNDAY",
    "due_at_for",
    "is_overdue",
]

SUNDAY = 6
_DAY = 24
_SCHED = (RebootPolicy.SCHEDULED, SUNDAY, time(2, 0))
_PROMPT = (RebootPolicy.USER_PROMPTED, None, None)
_MANUAL = (RebootPolicy.MANUAL_APPROVAL, None, None)

# (asset class key, tier) → (window hours, reboot policy, reboot weekday, reboot time)
DEFAULT_RULES: dict[tuple[str, str], tuple[int, str, int | None, time | None]] = {
    ("core_server", SeverityTier.CRITICAL): (24, *_SCHED),
    ("core_server", SeverityTier.HIGH): (3 * _DAY, *_SCHED),
    ("core_server", SeverityTier.MEDIUM): (14 * _DAY, *_SCHED),
    ("core_server", SeverityTier.LOW): (30 * _DAY, *_SCHED),
    ("core_server", SeverityTier.UNKNOWN): (14 * _DAY, *_SCHED),
    ("workstation", SeverityTier.CRITICAL): (2 * _DAY, *_PROMPT),
    ("workstation", SeverityTier.HIGH): (7 * _DAY, *_PROMPT),
    ("workstation", SeverityTier.MEDIUM): (14 * _DAY, *_PROMPT),
    ("workstation", SeverityTier.LOW): (30 * _DAY, *_PROMPT),
    ("workstation", SeverityTier.UNKNOWN): (14 * _DAY, *_PROMPT),
    ("do_not_disrupt", SeverityTier.CRITICAL): (3 * _DAY, *_MANUAL),
    ("do_not_disrupt", SeverityTier.HIGH): (7 * _DAY, *_MANUAL),
    ("do_not_disrupt", SeverityTier.MEDIUM): (30 * _DAY, *_MANUAL),
    ("do_not_disrupt", SeverityTier.LOW): (30 * _DAY, *_MANUAL),
    ("do_not_disrupt", SeverityTier.UNKNOWN): (30 * _DAY, *_MANUAL),
}
# The reboot policy each asset class gets when no SLA rule of the client says otherwise (the same
# for every tier of a class: read once from the table above).
DEFAULT_REBOOT_POLICY: dict[str, str] = {
    cls: rule[1] for (cls, tier), rule in DEFAULT_RULES.items() if tier == SeverityTier.UNKNOWN
}
FALLBACK_WINDOW_HOURS: dict[str, int] = {
    tier: rule[0] for (cls, tier), rule in DEFAULT_RULES.items() if cls == "workstation"
}


def due_at_for(detected_at: datetime, window_hours: int) -> datetime:
    """``detected_at + window`` in absolute hours (UTC arithmetic, DST-proof).

    Python adds a timedelta to an aware datetime in wall-clock time of its own zone, so the
    instant is moved to UTC first: 24 h across a spring-forward change stays 24 elapsed hours.
    """
    return detected_at.astimezone(UTC) + timedelta(hours=window_hours)


def is_overdue(due_at: datetime, at: datetime) -> bool:
    """Overdue strictly after the window end; ``due_at`` itself is still on time."""
    return at > due_at


def rules_snapshot(rules: Any) -> list[dict[str, Any]]:
    """A JSON-able picture of rules (for the change history and evidence)."""
    return [
        {
            "asset_class": r.asset_class.key,
            "tier": r.tier,
            "window_hours": r.window_hours,
            "reboot_policy": r.reboot_policy,
            "reboot_weekday": r.reboot_weekday,
            "reboot_time": r.reboot_time.strftime("%H:%M") if r.reboot_time else None,
        }
        for r in rules
    ]
