"""What a patch policy says, shared by a client's policy (``rings.PatchPolicy``) and an MSP-wide
template (``PolicyTemplate``): which updates, when, and whether the rollout needs an approval to
start. The occurrence arithmetic is pure and works in the client's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from catalogue.choices import SeverityTier
from common.choices import OsFamily

from .choices import WEEKDAYS, PolicyApprover, PolicySchedule, ProductClass

__all__ = [
    "MAX_OFFSET_DAYS",
    "PolicyRules",
    "patch_tuesday",
    "occurrence_in_month",
    "latest_occurrence",
    "next_occurrence",
    "RULE_FIELDS",
]

# "N days after Patch Tuesday": at most three weeks, so each month's run comes before the next
# month's Patch Tuesday.
MAX_OFFSET_DAYS = 21

# The rule fields a template hands to a client's policy, as they are.
RULE_FIELDS = (
    "tiers",
    "include_kev",
    "product_class",
    "os_families",
    "schedule",
    "offset_days",
    "weekday",
    "run_at",
    "approver_role",
)


class PolicyRules(models.Model):
    """The rule fields and their checks (``clean``), for the client policy and the template."""

    tiers = ArrayField(
        models.CharField(max_length=10, choices=SeverityTier.choices),
        default=list,
        blank=True,
        help_text="Severity tiers the policy patches (critical, high, medium, low, unknown).",
    )
    include_kev = models.BooleanField(
        default=False, help_text="Also every known-exploited (CISA KEV) update, whatever its tier."
    )
    product_class = models.CharField(
        max_length=20, choices=ProductClass.choices, default=ProductClass.OS
    )
    os_families = ArrayField(
        models.CharField(max_length=10, choices=OsFamily.choices),
        default=list,
        blank=True,
        help_text="Only these OS families; empty: every family.",
    )
    schedule = models.CharField(
        max_length=20, choices=PolicySchedule.choices, default=PolicySchedule.PATCH_TUESDAY
    )
    offset_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_OFFSET_DAYS)],
        help_text="Days after Patch Tuesday (second Tuesday of the month), 0–21.",
    )
    weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=WEEKDAYS, help_text="For a weekly policy."
    )
    run_at = models.TimeField(
        default=time(9, 0), help_text="Local time of day (the client's time zone)."
    )
    approver_role = models.CharField(
        max_length=20,
        choices=PolicyApprover.choices,
        default=PolicyApprover.NONE,
        help_text="Who approves the start of each rollout this policy creates.",
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        tiers = list(self.tiers or [])
        bad = [t for t in tiers if t not in SeverityTier.values]
        if bad:
            errors["tiers"] = f"Unknown severity tier: {', '.join(map(str, bad))}."
        elif len(set(tiers)) != len(tiers):
            errors["tiers"] = "Name each severity tier once."
        elif not tiers and not self.include_kev:
            errors["tiers"] = "Choose at least one severity tier, or include KEV updates."
        families = list(self.os_families or [])
        bad = [f for f in families if f not in OsFamily.values]
        if bad:
            errors["os_families"] = f"Unknown OS family: {', '.join(map(str, bad))}."
        if self.schedule == PolicySchedule.WEEKLY:
            if self.weekday is None:
                errors["weekday"] = "A weekly policy needs its weekday."
        elif self.schedule == PolicySchedule.PATCH_TUESDAY and self.weekday is not None:
            errors["weekday"] = "Only a weekly policy has a weekday."
        if self.offset_days and self.schedule != PolicySchedule.PATCH_TUESDAY:
            errors["offset_days"] = "Only a Patch Tuesday policy counts days after it."
        if errors:
            raise ValidationError(errors)

    # --- what it says, in words ------------------------------------------------------------

    @property
    def when_text(self) -> str:
        at = self.run_at.strftime("%H:%M")
        if self.schedule == PolicySchedule.WEEKLY:
            day = dict(WEEKDAYS).get(self.weekday, "?")
            return f"every {day} at {at}"
        if not self.offset_days:
            return f"on Patch Tuesday at {at}"
        plural = "s" if self.offset_days != 1 else ""
        return f"{self.offset_days} day{plural} after Patch Tuesday at {at}"

    @property
    def updates_text(self) -> str:
        order = {t: i for i, t in enumerate(SeverityTier.values)}
        tiers = sorted(self.tiers or [], key=lambda t: order.get(t, 99))
        what = " and ".join(", ".join(tiers).rsplit(", ", 1)) if tiers else ""
        kind = {
            ProductClass.OS: "OS update",
            ProductClass.APPLICATIONS: "application update",
            ProductClass.ANY: "update",
        }[self.product_class]
        text = f"every {what} {kind}" if what else f"every known-exploited {kind}"
        if tiers and self.include_kev:
            text += ", and every known-exploited one"
        if self.os_families:
            names = dict(OsFamily.choices)
            text += " (" + ", ".join(names.get(f, f) for f in self.os_families) + ")"
        return text


def patch_tuesday(year: int, month: int) -> date:
    """The second Tuesday of the month."""
    first = date(year, month, 1)
    return first + timedelta(days=(1 - first.weekday()) % 7 + 7)


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local ``clock`` on ``day``: a time the spring-forward change skips is
    read with the offset before the jump (02:30 → 03:30), a repeated one at its first
    occurrence (the maintenance windows' rules)."""
    wall = datetime.combine(day, clock.replace(tzinfo=None, fold=0), tzinfo=tz)
    return wall.astimezone(UTC)


def occurrence_in_month(rules: PolicyRules, year: int, month: int, tz: ZoneInfo) -> datetime:
    """The Patch Tuesday policy's run belonging to that month's Patch Tuesday (UTC)."""
    day = patch_tuesday(year, month) + timedelta(days=rules.offset_days or 0)
    return _at(day, rules.run_at, tz)


def _months_back(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) - n
    return index // 12, index % 12 + 1


def latest_occurrence(rules: PolicyRules, at: datetime, tz: ZoneInfo) -> datetime | None:
    """The policy's latest occurrence at or before ``at`` (UTC)."""
    local = at.astimezone(tz)
    if rules.schedule == PolicySchedule.WEEKLY:
        if rules.weekday is None:
            return None
        for back in range(8):
            day = local.date() - timedelta(days=back)
            if day.weekday() == rules.weekday:
                moment = _at(day, rules.run_at, tz)
                if moment <= at:
                    return moment
        return None
    for back in range(3):
        year, month = _months_back(local.year, local.month, back)
        moment = occurrence_in_month(rules, year, month, tz)
        if moment <= at:
            return moment
    return None


def next_occurrence(rules: PolicyRules, at: datetime, tz: ZoneInfo) -> datetime | None:
    """The policy's first occurrence after ``at`` (UTC)."""
    local = at.astimezone(tz)
    if rules.schedule == PolicySchedule.WEEKLY:
        if rules.weekday is None:
            return None
        for ahead in range(9):
            day = local.date() + timedelta(days=ahead)
            if day.weekday() == rules.weekday:
                moment = _at(day, rules.run_at, tz)
                if moment > at:
                    return moment
        return None
    for ahead in range(-1, 3):
        year, month = _months_back(local.year, local.month, -ahead)
        moment = occurrence_in_month(rules, year, month, tz)
        if moment > at:
            return moment
    return None
