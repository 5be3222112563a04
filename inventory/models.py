"""Inventory (tenant schema): sites, asset classes, assets, installed software, pending updates."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH

from .choices import (
    AssetRole,
    AssetSource,
    DataFlow,
    DiscoveryRunSource,
    DiscoveryRunStatus,
    InstallOutcome,
    InstallRecordSource,
    RebootApproval,
    ReportedSeverity,
    SoftwareCategory,
    SoftwareChangeKind,
    SoftwareKind,
    UnknownDeviceState,
    UpdateSource,
)

__all__ = [
    "Site",
    "AssetClass",
    "Asset",
    "InstalledSoftware",
    "PendingUpdate",
    "SoftwareChange",
    "DiscoveryRun",
    "DiscoverySchedule",
    "UnknownDevice",
    "SoftwarePolicy",
    "SoftwarePolicyReview",
    "InventorySnapshot",
    "PatchReport",
    "OsInstallRecord",
    "InstallRecordCoverage",
]


class Site(models.Model):
    """A location of the client (clinic, office, data centre)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    address = models.CharField(max_length=250, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AssetClass(models.Model):
    """Business class of an asset; the SLA policy maps class × severity tier to a window.

    Built in: ``core_server``, ``workstation``, ``do_not_disrupt``; clients may add their own.
    """

    CORE_SERVER = "core_server"
    WORKSTATION = "workstation"
    DO_NOT_DISRUPT = "do_not_disrupt"

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    is_builtin = models.BooleanField(default=False)
    is_critical = models.BooleanField(
        default=False, help_text="Snapshot required before patching (core servers and the like)."
    )
    is_do_not_disrupt = models.BooleanField(
        default=False, help_text="Never placed in the canary ring automatically."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "asset classes"

    def __str__(self) -> str:
        return self.name


class Asset(models.Model):
    """A device of the client: managed (reported by a source) or unknown (found on a scan)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    hostname = models.CharField(max_length=255)
    agent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    hardware_serial = models.CharField(max_length=255, blank=True)
    mac_addresses = ArrayField(models.CharField(max_length=17), default=list, blank=True)
    ip_addresses = ArrayField(models.GenericIPAddressField(), default=list, blank=True)
    os_family = models.CharField(max_length=10, choices=OsFamily.choices, default=OsFamily.OTHER)
    os_name = models.CharField(max_length=200, blank=True)
    os_version = models.CharField(max_length=100, blank=True)
    os_build = models.CharField(max_length=100, blank=True)
    os_arch = models.CharField(
        max_length=30, blank=True, help_text="CPU architecture the OS runs on (x86_64, arm64, x86)"
    )
    role = models.CharField(max_length=20, choices=AssetRole.choices, default=AssetRole.OTHER)
    asset_class = models.ForeignKey(AssetClass, on_delete=models.PROTECT, related_name="assets")
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    owner = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=200, blank=True)
    is_ephi = models.BooleanField("ePHI system", default=False)
    data_flows = ArrayField(
        models.CharField(max_length=10, choices=DataFlow.choices), default=list, blank=True
    )
    is_managed = models.BooleanField(default=True)
    is_stale = models.BooleanField(default=False)
    source = models.CharField(max_length=20, choices=AssetSource.choices)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    software_tables = ArrayField(
        models.CharField(max_length=10, choices=SoftwareKind.choices),
        default=list,
        blank=True,
        help_text="Software kinds this asset has ever reported (its patch sources).",
    )
    has_reported_updates = models.BooleanField(
        default=False, help_text="The device has reported its pending updates at least once."
    )
    # The restart the device reports pending (discovery payload ``reboot_pending``, or an agent
    # job's result); cleared by a later inventory that reports none.
    reboot_pending = models.BooleanField(default=False)
    reboot_pending_since = models.DateTimeField(null=True, blank=True)
    reboot_approval = models.CharField(
        max_length=10,
        choices=RebootApproval.choices,
        blank=True,
        help_text="Manual-approval restarts: awaiting a person's approval, or approved.",
    )
    reboot_approved_by = models.CharField(max_length=254, blank=True)
    reboot_approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["hostname"]
        indexes = [
            models.Index(fields=["hostname"], name="inventory_asset_hostname"),
            models.Index(fields=["os_family"], name="inventory_asset_os_family"),
            models.Index(Lower("hostname"), name="inventory_asset_lower_hostname"),
        ]

    def __str__(self) -> str:
        return self.hostname


class InstalledSoftware(models.Model):
    """One installed package, program, app or Windows update (KB) on one asset."""

    uuid = models.UUIDField(db_default=RandomUUID(), unique=True, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="software")
    kind = models.CharField(max_length=10, choices=SoftwareKind.choices)
    name = models.CharField(max_length=300)
    version = models.CharField(max_length=200, blank=True)
    arch = models.CharField(max_length=30, blank=True)
    vendor = models.CharField(max_length=200, blank=True)
    category = models.CharField(
        max_length=20, choices=SoftwareCategory.choices, default=SoftwareCategory.OTHER
    )
    install_date = models.DateField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "kind", "name", "arch"],
                name="%(app_label)s_%(class)s_unique_per_asset",
                violation_error_message="This software is already recorded on the asset.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


class PendingUpdate(models.Model):
    """An update the device itself reported as available but not installed."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="pending_updates")
    name = models.CharField(max_length=300)
    installed_version = models.CharField(max_length=200, blank=True)
    available_version = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=20, choices=UpdateSource.choices)
    advisory = models.CharField(max_length=100, blank=True, help_text="KB…, USN-…, DSA-…, RHSA-…")
    cves = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    severity = models.CharField(
        max_length=10, choices=ReportedSeverity.choices, default=ReportedSeverity.UNKNOWN
    )
    reboot_required = models.BooleanField(default=False)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "source", "name"],
                name="%(app_label)s_%(class)s_unique_per_asset",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.available_version}"


class SoftwareChange(models.Model):
    """An installed, removed or upgraded package seen between two reports of one asset."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="software_changes")
    change = models.CharField(max_length=10, choices=SoftwareChangeKind.choices)
    kind = models.CharField(max_length=10, choices=SoftwareKind.choices)
    name = models.CharField(max_length=300)
    arch = models.CharField(max_length=30, blank=True)
    from_version = models.CharField(max_length=200, blank=True)
    to_version = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()
    run = models.ForeignKey(
        "DiscoveryRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )

    class Meta:
        ordering = ["-at", "name"]
        indexes = [models.Index(fields=["asset", "-at"], name="inventory_swchange_asset_at")]

    def __str__(self) -> str:
        return f"{self.name} {self.change}"


class DiscoveryRun(models.Model):
    """One discovery pass: an agent push, a file import or a scheduled run."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(max_length=10, choices=DiscoveryRunSource.choices)
    source_name = models.CharField(
        max_length=200, blank=True, help_text="File name, agent token name or schedule."
    )
    format = models.CharField(max_length=20, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=DiscoveryRunStatus.choices, default=DiscoveryRunStatus.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True)
                | models.Q(finished_at__gte=models.F("started_at")),
                name="%(app_label)s_%(class)s_finished_after_start",
                violation_error_message="A run cannot finish before it started.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self) -> timedelta | None:
        return (self.finished_at - self.started_at) if self.finished_at else None


class DiscoverySchedule(models.Model):
    """When the scheduled discovery runs (one row per client; cadence is on the Client).

    Daily runs happen at ``local_hour`` in the client's time zone; weekly runs on ``weekday``
    (0 = Monday) at that hour.
    """

    local_hour = models.PositiveSmallIntegerField(default=2)
    weekday = models.PositiveSmallIntegerField(default=6)
    is_enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(local_hour__lte=23),
                name="%(app_label)s_%(class)s_hour_range",
                violation_error_message="The hour must be between 0 and 23.",
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6),
                name="%(app_label)s_%(class)s_weekday_range",
                violation_error_message="The weekday must be between 0 (Monday) and 6 (Sunday).",
            ),
        ]

    def __str__(self) -> str:
        return f"discovery at {self.local_hour:02d}:00"

    @classmethod
    def current(cls) -> DiscoverySchedule:
        return cls.objects.order_by("pk").first() or cls()


class UnknownDevice(models.Model):
    """A host seen on a network scan that matches no managed asset; triaged by an engineer."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    mac = models.CharField(max_length=17, blank=True)
    mac_vendor = models.CharField(max_length=200, blank=True)
    hostnames = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    os_guesses = models.JSONField(default=list, blank=True)
    open_ports = models.JSONField(default=list, blank=True)
    source_name = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=10, choices=UnknownDeviceState.choices, default=UnknownDeviceState.NEW
    )
    dismiss_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    adopted_asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="adopted_from"
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(ip__isnull=True, mac=""),
                name="%(app_label)s_%(class)s_has_address",
                violation_error_message="An unknown device needs an IP or a MAC address.",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=UnknownDeviceState.DISMISSED, dismiss_reason=""),
                name="%(app_label)s_%(class)s_dismiss_needs_reason",
                violation_error_message="Dismissing a device needs a reason.",
            ),
            models.UniqueConstraint(
                fields=["mac"],
                condition=~models.Q(mac=""),
                name="%(app_label)s_%(class)s_unique_mac",
            ),
            models.UniqueConstraint(
                fields=["ip"],
                condition=models.Q(mac=""),
                name="%(app_label)s_%(class)s_unique_ip_without_mac",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return (self.hostnames[0] if self.hostnames else "") or self.ip or self.mac


class SoftwarePolicy(models.Model):
    """Supported / unsupported software list of the client (``name_pattern`` is a shell glob)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name_pattern = models.CharField(max_length=200, unique=True)
    is_supported = models.BooleanField(default=True)
    notes = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name_pattern"]
        verbose_name_plural = "software policies"

    def __str__(self) -> str:
        return f"{self.name_pattern} ({'supported' if self.is_supported else 'unsupported'})"

    def matches(self, name: str) -> bool:
        from fnmatch import fnmatchcase

        return fnmatchcase(name.lower(), self.name_pattern.lower())


class SoftwarePolicyReview(models.Model):
    """The quarterly review of the supported/unsupported list; overdue 92 days after the last."""

    REVIEW_INTERVAL_DAYS = 92

    reviewed_on = models.DateField()
    reviewed_by = models.CharField(max_length=200)
    notes = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["-reviewed_on"]

    def __str__(self) -> str:
        return f"review {self.reviewed_on}"

    @property
    def next_review_due(self) -> date:
        return self.reviewed_on + timedelta(days=self.REVIEW_INTERVAL_DAYS)

    def is_overdue(self, *, today: date | None = None) -> bool:
        return (today or timezone.localdate()) > self.next_review_due


class InventorySnapshot(models.Model):
    """A monthly (or on-demand) export of devices and software, immutable once written."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    month = models.DateField(help_text="First day of the month the snapshot belongs to.")
    taken_on = models.DateField(help_text="Local date of the client when it was taken.")
    csv_file = models.FileField(upload_to="inventory/snapshots/")
    csv_sha256 = models.CharField(max_length=64)
    json_file = models.FileField(upload_to="inventory/snapshots/")
    json_sha256 = models.CharField(max_length=64)
    asset_count = models.PositiveIntegerField(default=0)
    software_count = models.PositiveIntegerField(default=0)
    is_scheduled = models.BooleanField(default=False)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["month"],
                condition=models.Q(is_scheduled=True),
                name="%(app_label)s_%(class)s_one_scheduled_per_month",
            ),
            models.CheckConstraint(
                condition=models.Q(month__day=1),
                name="%(app_label)s_%(class)s_month_is_first_day",
                violation_error_message="The month is stored as its first day.",
            ),
        ]

    def __str__(self) -> str:
        return f"inventory snapshot {self.taken_on}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Inventory snapshots are immutable.")
        super().save(*args, **kwargs)


class PatchReport(models.Model):
    """One patch or package list an asset reported (a software table or its pending updates),
    written by ingest. The history behind "reporting": an asset in patch scope is reporting at
    an instant when one of these arrived within the client's staleness window before it."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="patch_reports")
    reported_at = models.DateTimeField(help_text="When the device collected the list.")
    run = models.ForeignKey(
        DiscoveryRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-reported_at"]
        indexes = [
            models.Index(fields=["asset", "reported_at"], name="inventory_patchreport_asset_at")
        ]

    def __str__(self) -> str:
        return f"patch report of {self.asset_id} at {self.reported_at:%Y-%m-%d %H:%M}"


class OsInstallRecord(models.Model):
    """One install (or failure, start, removal) the device's operating system wrote down itself:
    a Windows Update client event, a macOS install history row or install.log line, an apt,
    dpkg, dnf or yum log entry. Sent by the agent with its inventory, kept once per record id;
    the evidence a verification cites and a reported deployment is checked against."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="os_install_records")
    source = models.CharField(max_length=20, choices=InstallRecordSource.choices)
    record_id = models.CharField(max_length=200, help_text="The record's id in its source.")
    occurred_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=InstallOutcome.choices)
    name = models.CharField(max_length=300, help_text="Update title or package name.")
    version = models.CharField(max_length=200, blank=True)
    kb = models.CharField(max_length=12, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField()
    run = models.ForeignKey(
        DiscoveryRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "source", "record_id"],
                name="inventory_osinstallrecord_once",
                violation_error_message="This record is already stored for the asset.",
            )
        ]
        indexes = [
            models.Index(fields=["asset", "occurred_at"], name="inventory_osrecord_asset_at"),
            models.Index(fields=["asset", "kb"], name="inventory_osrecord_asset_kb"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.record_id} ({self.outcome}) on {self.asset_id}"

    def citation(self) -> dict[str, str]:
        """What a verification cites: source, time, record id, and what it names."""
        return {
            "source": self.source,
            "record_id": self.record_id,
            "occurred_at": self.occurred_at.isoformat(),
            "name": self.name,
            "version": self.version,
            "kb": self.kb,
        }


class InstallRecordCoverage(models.Model):
    """Up to when an asset's OS install records have arrived: the collection time of the last
    inventory that carried them (an empty list too: the agent looked and found nothing new)."""

    asset = models.OneToOneField(
        Asset, on_delete=models.CASCADE, related_name="install_record_coverage"
    )
    through = models.DateTimeField()
    sources = ArrayField(
        models.CharField(max_length=20, choices=InstallRecordSource.choices),
        default=list,
        blank=True,
        help_text="Every source this asset has sent records from.",
    )

    def __str__(self) -> str:
        return f"install records of {self.asset_id} through {self.through:%Y-%m-%d %H:%M}"
