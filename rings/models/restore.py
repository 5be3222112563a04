"""Restore tests of critical systems: a backup restored on purpose, scheduled and then recorded
(who, when, what was restored, the outcome and a link to the evidence), and the client's rule
of how recent a passing one must be before a wave may patch the system."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from common.limits import TEXT_MAX_LENGTH


class RestoreOutcome(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


def default_max_age_days() -> int:
    return int(getattr(settings, "RESTORE_TEST_MAX_AGE_DAYS", 90))


class RestoreTest(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    asset = models.ForeignKey(
        "inventory.Asset", on_delete=models.PROTECT, related_name="restore_tests"
    )
    scheduled_for = models.DateField()
    what = models.TextField(
        max_length=TEXT_MAX_LENGTH, help_text="What is restored, from which backup, to where."
    )
    scheduled_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(
        max_length=10, choices=RestoreOutcome.choices, default=RestoreOutcome.SCHEDULED
    )
    performed_at = models.DateTimeField(null=True, blank=True)
    performed_by = models.CharField(max_length=200, blank=True)
    evidence_url = models.URLField(max_length=500, blank=True)
    note = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    recorded_by = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_for", "-pk"]
        indexes = [models.Index(fields=["asset", "outcome", "performed_at"])]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.scheduled_for}: {self.outcome}"


class RestoreTestRule(models.Model):
    """One row per client: how many days a passing restore test stays good, and whether a
    wave refuses to start while a critical member lacks one."""

    max_age_days = models.PositiveSmallIntegerField(
        default=default_max_age_days, validators=[MinValueValidator(1), MaxValueValidator(730)]
    )
    gate_waves = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.max_age_days} days, gate {'on' if self.gate_waves else 'off'}"
