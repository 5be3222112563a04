"""Rings (tenant schema), their membership and automatic placements, and maintenance windows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models

from rings import windows
from rings.choices import (
    ApproverRole,
    MembershipSource,
    PlacementTrigger,
    RingAssignment,
    WindowRecurrence,
    WindowScope,
)


def _client_tz() -> ZoneInfo:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "tz", None) or ZoneInfo("UTC")


class Ring(models.Model):
    """One stage of a rollout. Canary, pilot and production are seeded; more may be added."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(unique=True)
    assignment = models.CharField(
        max_length=12, choices=RingAssignment.choices, default=RingAssignment.MANUAL
    )
    fleet_percent = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(10), MaxValueValidator(20)],
        help_text="Pilot rings only: share of the fleet (10–20 %).",
    )
    canary_size = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Canary rings only: target sample size (raised to cover OS families and roles).",
    )
    soak_hours = models.PositiveIntegerField(default=24)
    failure_threshold_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    approver_role = models.CharField(
        max_length=20, choices=ApproverRole.choices, default=ApproverRole.ENGINEER
    )
    verify_timeout_hours = models.PositiveIntegerField(
        default=72, help_text="Soak starts anyway after this long without full verification."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(failure_threshold_pct__gte=0, failure_threshold_pct__lte=100),
                name="%(app_label)s_%(class)s_threshold_is_percent",
                violation_error_message="The failure threshold is a percentage (0–100).",
            ),
            models.CheckConstraint(
                condition=models.Q(fleet_percent__gte=10, fleet_percent__lte=20),
                name="%(app_label)s_%(class)s_fleet_percent_10_20",
                violation_error_message="A pilot ring holds 10–20 % of the fleet.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def soak(self) -> timedelta:
        return timedelta(hours=self.soak_hours)


class RingMembership(models.Model):
    """An asset sits in exactly one ring; pinned memberships are never moved automatically."""

    ring = models.ForeignKey(Ring, on_delete=models.CASCADE, related_name="memberships")
    asset = models.OneToOneField(
        "inventory.Asset", on_delete=models.CASCADE, related_name="ring_membership"
    )
    source = models.CharField(
        max_length=10, choices=MembershipSource.choices, default=MembershipSource.AUTOMATIC
    )
    assigned_at = models.DateTimeField()
    assigned_by = models.CharField(max_length=200, blank=True)
    placed_by = models.CharField(
        max_length=12,
        choices=PlacementTrigger.choices,
        default=PlacementTrigger.REQUEST,
        help_text="What put the asset in its current ring.",
    )

    class Meta:
        ordering = ["ring__order", "asset__hostname"]

    def __str__(self) -> str:
        return f"{self.asset} in {self.ring}"

    @property
    def is_pinned(self) -> bool:
        return self.source == MembershipSource.PINNED


class PlacementRun(models.Model):
    """One run of the automatic placement: new devices placed when first seen, a scheduled
    re-balance, or an assignment a person asked for. The rings page reads the latest ones."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    trigger = models.CharField(max_length=12, choices=PlacementTrigger.choices)
    ran_at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    assets = models.PositiveIntegerField(default=0, help_text="Managed assets in the fleet.")
    placed = models.PositiveIntegerField(default=0, help_text="Assets given their first ring.")
    moved = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(
        default=0, help_text="Left in place because an unfinished rollout carries them."
    )
    pinned = models.PositiveIntegerField(default=0)
    rings = models.JSONField(default=dict, blank=True, help_text="{ring key: members after}")

    class Meta:
        ordering = ["-ran_at", "-pk"]
        indexes = [models.Index(fields=["trigger", "ran_at"], name="rings_placement_trigger")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} at {self.ran_at:%Y-%m-%d %H:%M}"


class MaintenanceWindow(models.Model):
    """A recurring window in the client's time zone; see ``rings.windows`` for the rules."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    scope = models.CharField(max_length=12, choices=WindowScope.choices, default=WindowScope.CLIENT)
    site = models.ForeignKey(
        "inventory.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    asset_class = models.ForeignKey(
        "inventory.AssetClass", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recurrence = models.CharField(max_length=20, choices=WindowRecurrence.choices)
    weekdays = ArrayField(
        models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)]),
        default=list,
        blank=True,
        help_text="Weekly: 0 = Monday … 6 = Sunday.",
    )
    day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    nth = models.SmallIntegerField(
        null=True, blank=True, help_text="1–4 counts from the start of the month, -1 is the last."
    )
    weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(6)]
    )
    offset_days = models.SmallIntegerField(
        default=0, validators=[MinValueValidator(-7), MaxValueValidator(20)]
    )
    start_time = models.TimeField()
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(15), MaxValueValidator(72 * 60)]
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope=WindowScope.CLIENT, site__isnull=True, asset_class__isnull=True)
                    | models.Q(scope=WindowScope.SITE, site__isnull=False, asset_class__isnull=True)
                    | models.Q(
                        scope=WindowScope.ASSET_CLASS, site__isnull=True, asset_class__isnull=False
                    )
                ),
                name="%(app_label)s_%(class)s_scope_target",
                violation_error_message="A window names the site or asset class of its scope.",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=15, duration_minutes__lte=72 * 60),
                name="%(app_label)s_%(class)s_duration_range",
                violation_error_message="A window lasts between 15 minutes and 72 hours.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.scope == WindowScope.SITE and not self.site_id:
            errors["site"] = "A site window needs its site."
        if self.scope == WindowScope.ASSET_CLASS and not self.asset_class_id:
            errors["asset_class"] = "An asset-class window needs its asset class."
        if self.scope != WindowScope.SITE and self.site_id:
            errors["site"] = "Only a site window names a site."
        if self.scope != WindowScope.ASSET_CLASS and self.asset_class_id:
            errors["asset_class"] = "Only an asset-class window names an asset class."
        if self.recurrence == WindowRecurrence.WEEKLY and not self.weekdays:
            errors["weekdays"] = "A weekly window needs at least one weekday."
        if self.weekdays and any(d > 6 for d in self.weekdays):
            errors["weekdays"] = "Weekdays are 0 (Monday) to 6 (Sunday)."
        if self.recurrence == WindowRecurrence.MONTHLY_DAY and not self.day_of_month:
            errors["day_of_month"] = "A monthly window by day needs its day (1–31)."
        if self.recurrence == WindowRecurrence.MONTHLY_NTH_WEEKDAY:
            if self.nth not in (1, 2, 3, 4, -1):
                errors["nth"] = "Choose 1–4 or -1 (last)."
            if self.weekday is None:
                errors["weekday"] = "Choose the weekday (0 = Monday … 6 = Sunday)."
        if errors:
            raise ValidationError(errors)

    @property
    def spec(self) -> windows.WindowSpec:
        return windows.WindowSpec(
            recurrence=self.recurrence,
            start_time=self.start_time,
            duration=timedelta(minutes=self.duration_minutes),
            weekdays=tuple(self.weekdays or ()),
            day_of_month=self.day_of_month,
            nth=self.nth,
            weekday=self.weekday,
            offset_days=self.offset_days or 0,
        )

    def next_occurrence(
        self, after: datetime, tz: ZoneInfo | None = None
    ) -> tuple[datetime, datetime] | None:
        """(start, end) of the first opening at or after ``after`` (client time zone)."""
        return windows.next_occurrence(self.spec, tz or _client_tz(), after)

    def current_or_next(
        self, at: datetime, tz: ZoneInfo | None = None
    ) -> tuple[datetime, datetime] | None:
        return windows.current_or_next(self.spec, tz or _client_tz(), at)

    def describe(self, tz: ZoneInfo | None = None) -> str:
        """The window in words: ``Sundays 02:00–05:00 Chicago time``."""
        return windows.describe(self.spec, tz or _client_tz())

    def is_open(self, at: datetime, tz: ZoneInfo | None = None) -> bool:
        return windows.is_open(self.spec, tz or _client_tz(), at)

    def applies_to(self, asset) -> bool:
        if self.scope == WindowScope.SITE:
            return asset.site_id == self.site_id
        if self.scope == WindowScope.ASSET_CLASS:
            return asset.asset_class_id == self.asset_class_id
        return True
