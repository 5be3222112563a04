"""Inventory (tenant schema): sites, asset classes, assets, installed software, pending updates."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from .choices import (
    AssetRole,
    AssetSource,
    DataFlow,
    OsFamily,
    ReportedSeverity,
    SoftwareCategory,
    SoftwareKind,
    UpdateSource,
)

__all__ = ["Site", "AssetClass", "Asset", "InstalledSoftware", "PendingUpdate"]


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

    class Meta:
        ordering = ["hostname"]
        indexes = [
            models.Index(fields=["hostname"], name="inventory_asset_hostname"),
            models.Index(fields=["os_family"], name="inventory_asset_os_family"),
        ]

    def __str__(self) -> str:
        return self.hostname


class InstalledSoftware(models.Model):
    """One installed package, program, app or Windows update (KB) on one asset."""

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
