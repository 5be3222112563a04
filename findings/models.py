"""Patch core (tenant schema): findings, one missing patch on one asset, with their SLA clock."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .choices import (
    FindingOrigin,
    FindingState,
    RebootPolicy,
    SeverityTier,
    TriageKind,
    TriageState,
)

__all__ = ["Finding", "FindingTriage", "SlaPolicy", "SlaRule", "SlaPolicyChange", "OPEN_STATES"]

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
    # The fix is installed but the asset reports a restart pending: not verified until an
    # inventory without the pending restart shows the fix.
    awaiting_reboot_since = models.DateTimeField(null=True, blank=True)
    # The due time the SLA watch last announced (``finding.due_soon`` / ``finding.overdue``): a
    # due time announced once is not announced again; a new due time (re-tiering, an SLA change,
    # a reopening) is.
    due_soon_announced_for = models.DateTimeField(null=True, blank=True, editable=False)
    overdue_announced_for = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "patchops_finding"  # created by the patchops app before the move
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "patch_identifier"],
                name="patchops_finding_one_per_patch_per_asset",
                violation_error_message="This asset already has a finding for this patch.",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=FindingState.VERIFIED)
                | models.Q(verified_at__isnull=False),
                name="patchops_finding_verified_has_time",
                violation_error_message="A verified finding needs its verification time.",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="patchops_finding_state_due"),
            models.Index(fields=["tier"], name="patchops_finding_tier"),
        ]

    def __str__(self) -> str:
        return f"{self.patch_identifier} on {self.asset_id}"


class SlaPolicy(models.Model):
    """The client's patch SLA: one per client schema, holding one rule per asset class × tier."""

    name = models.CharField(max_length=100, default="Patch SLA")
    failure_rate_threshold_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Client-level patch failure rate (%) over a report's period above which the "
        "monthly report recommends widening the client's maintenance windows (blank: never).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "patchops_slapolicy"  # created by the patchops app before the move
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class SlaRule(models.Model):
    """Asset class × severity tier → deployment window (absolute hours) and reboot policy.

    Windows are absolute hours: ``due_at = detected_at + window_hours`` whatever daylight saving
    does in the client's time zone. ``reboot_weekday``/``reboot_time`` (client time zone) say when a
    scheduled reboot happens (weekday 0 = Monday … 6 = Sunday).
    """

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="rules")
    asset_class = models.ForeignKey(
        "inventory.AssetClass", on_delete=models.CASCADE, related_name="sla_rules"
    )
    tier = models.CharField(max_length=10, choices=SeverityTier.choices)
    window_hours = models.PositiveIntegerField()
    reboot_policy = models.CharField(max_length=20, choices=RebootPolicy.choices)
    reboot_weekday = models.PositiveSmallIntegerField(null=True, blank=True)
    reboot_time = models.TimeField(null=True, blank=True)

    class Meta:
        db_table = "patchops_slarule"  # created by the patchops app before the move
        ordering = ["asset_class__key", "tier"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "asset_class", "tier"],
                name="patchops_slarule_one_per_class_tier",
                violation_error_message="This policy already has a rule for that class and tier.",
            ),
            models.CheckConstraint(
                condition=models.Q(window_hours__gte=1),
                name="patchops_slarule_window_positive",
                violation_error_message="A deployment window is at least one hour.",
            ),
            models.CheckConstraint(
                condition=~models.Q(reboot_policy=RebootPolicy.SCHEDULED)
                | (models.Q(reboot_weekday__isnull=False) & models.Q(reboot_time__isnull=False)),
                name="patchops_slarule_scheduled_has_time",
                violation_error_message="A scheduled reboot needs a weekday and a time.",
            ),
            models.CheckConstraint(
                condition=models.Q(reboot_weekday__isnull=True) | models.Q(reboot_weekday__lte=6),
                name="patchops_slarule_weekday_range",
                violation_error_message="The reboot weekday is 0 (Monday) to 6 (Sunday).",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_class_id}/{self.tier}: {self.window_hours} h"


class SlaPolicyChange(models.Model):
    """History of SLA policy edits: the rules before and after, who and when."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="changes")
    actor = models.CharField(max_length=255)
    at = models.DateTimeField()
    before = models.JSONField()
    after = models.JSONField()
    redated_findings = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "patchops_slapolicychange"  # created by the patchops app before the move
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor} at {self.at:%Y-%m-%d %H:%M}"


class FindingTriage(models.Model):
    """A request to close a finding as not applicable or a false positive, and its decision.

    An engineer asks with a reason; another person holding the administer capability in the
    client approves (the finding becomes ``not_applicable``) or rejects it (it stays open work).
    Nobody approves their own request: the approver is the second pair of eyes an auditor asks
    for. Both steps are evidence events naming the finding.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="triage")
    kind = models.CharField(max_length=20, choices=TriageKind.choices)
    reason = models.TextField(max_length=2000)
    state = models.CharField(
        max_length=10, choices=TriageState.choices, default=TriageState.PENDING
    )
    requested_by = models.ForeignKey(
        "tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=255)
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        "tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_label = models.CharField(max_length=255, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["finding"],
                condition=models.Q(state="pending"),
                name="findings_triage_one_pending_per_finding",
                violation_error_message="This finding already has a triage request awaiting "
                "approval.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.finding_id} ({self.get_state_display()})"
