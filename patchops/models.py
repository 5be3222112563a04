"""Patch core (tenant schema): findings, one missing patch on one asset, with their SLA clock."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from .choices import FindingOrigin, FindingState, SeverityTier

__all__ = ["Finding"]

OPEN_STATES = (
    FindingState.OPEN,
    FindingState.SCHEDULED,
    FindingState.DEPLOYED,
    FindingState.FAILED,
)


class Finding(models.Model):
    """One missing patch on one asset. ``due_at = detected_at + window(asset class, tier)``."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="findings")
    advisory = models.ForeignKey(
        "catalogue.Advisory",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    patch_identifier = models.CharField(
        max_length=200, help_text="KB number, USN/DSA id, or package@fixed-version"
    )
    package_name = models.CharField(max_length=300, blank=True)
    installed_version = models.CharField(max_length=200, blank=True)
    fixed_version = models.CharField(max_length=200, blank=True)
    cves = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    is_kev = models.BooleanField(default=False)
    tier = models.CharField(max_length=10, choices=SeverityTier.choices)
    risk_score = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    origin = models.CharField(max_length=20, choices=FindingOrigin.choices)
    state = models.CharField(max_length=20, choices=FindingState.choices, default=FindingState.OPEN)
    detected_at = models.DateTimeField()
    due_at = models.DateTimeField()
    deployed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "patch_identifier"],
                name="%(app_label)s_%(class)s_one_per_patch_per_asset",
                violation_error_message="This asset already has a finding for this patch.",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=FindingState.VERIFIED)
                | models.Q(verified_at__isnull=False),
                name="%(app_label)s_%(class)s_verified_has_time",
                violation_error_message="A verified finding needs its verification time.",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="patchops_finding_state_due"),
            models.Index(fields=["tier"], name="patchops_finding_tier"),
        ]

    def __str__(self) -> str:
        return f"{self.patch_identifier} on {self.asset_id}"
