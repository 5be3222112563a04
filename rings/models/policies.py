"""Automatic patch policies (tenant schema): which updates, which assets, when, and whether
the rollout needs an approval to start; each scheduled occurrence is one ``PolicyRun``."""

from __future__ import annotations

import uuid

from django.db import models

from common.limits import TEXT_MAX_LENGTH
from policytemplates.rules import PolicyRules
from rings.choices import PolicyRunOutcome
from rings.models.fleet import Ring
from rings.models.rollouts import Rollout


class PatchPolicy(PolicyRules):
    """A client's rule such as "every critical and high OS update for workstations, two days
    after Patch Tuesday": on each occurrence it creates a rollout of the matching open
    findings by itself. ``template`` names the MSP-wide template it came from, if any."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    asset_classes = models.ManyToManyField(
        "inventory.AssetClass",
        related_name="+",
        blank=True,
        help_text="Only assets of these classes; none: every class.",
    )
    rings = models.ManyToManyField(
        Ring, related_name="+", blank=True, help_text="Only members of these rings; none: all."
    )
    template = models.UUIDField(
        null=True, blank=True, help_text="The MSP-wide template this policy was applied from."
    )
    template_name = models.CharField(max_length=120, blank=True)
    active_since = models.DateTimeField(
        help_text="Occurrences before this instant (creation, re-activation or a new schedule) "
        "are not run."
    )
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "patch policies"
        constraints = [
            models.UniqueConstraint(
                fields=["template"],
                condition=models.Q(template__isnull=False),
                name="%(app_label)s_%(class)s_one_per_template",
                violation_error_message="This client already has a policy from this template.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PolicyRun(models.Model):
    """One occurrence of a policy: the rollout it created, nothing to patch, or the error.
    Unique per policy and occurrence, so a task that runs twice (or twice at once) creates
    one rollout."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(PatchPolicy, on_delete=models.CASCADE, related_name="runs")
    occurrence = models.DateTimeField(help_text="The scheduled instant this run belongs to.")
    ran_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=PolicyRunOutcome.choices)
    rollout = models.ForeignKey(
        Rollout, null=True, blank=True, on_delete=models.SET_NULL, related_name="policy_runs"
    )
    findings = models.PositiveIntegerField(default=0)
    message = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["-occurrence"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "occurrence"],
                name="%(app_label)s_%(class)s_once_per_occurrence",
                violation_error_message="This occurrence of the policy has already run.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} at {self.occurrence:%Y-%m-%d %H:%M}: {self.outcome}"

    @property
    def outcome_color(self) -> str:
        return PolicyRunOutcome(self.outcome).color
