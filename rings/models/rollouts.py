"""Rollouts (tenant schema) and their waves, per-asset deployment results, approvals, runbook
checks and rollbacks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from common.limits import LOG_MAX_LENGTH, TEXT_MAX_LENGTH
from rings.choices import (
    ApproverRole,
    DeploymentStatus,
    RestartMode,
    RollbackOutcome,
    RollbackTargetStatus,
    RolloutSelection,
    RolloutState,
    WaveState,
)
from rings.models.fleet import Ring


class Rollout(models.Model):
    """A set of patches moving through the rings, one wave per ring."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    selection = models.CharField(max_length=20, choices=RolloutSelection.choices)
    os_family = models.CharField(max_length=10, blank=True)
    patch_identifiers = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    findings = models.ManyToManyField("findings.Finding", related_name="rollouts", blank=True)
    state = models.CharField(
        max_length=20, choices=RolloutState.choices, default=RolloutState.ACTIVE
    )
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    halted_at = models.DateTimeField(null=True, blank=True)
    halt_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.CharField(max_length=200, blank=True)
    resume_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    is_expedited = models.BooleanField(
        default=False,
        help_text="Emergency lane: shortened soak, every wave approved by a person, deploys "
        "as soon as it is promoted instead of waiting for a maintenance window.",
    )
    expedite_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    expedite_due_at = models.DateTimeField(
        null=True, blank=True, help_text="The earliest due time the emergency lane races."
    )
    expedite_soak_hours = models.PositiveIntegerField(null=True, blank=True)
    start_approver_role = models.CharField(
        max_length=20,
        choices=ApproverRole.choices,
        default=ApproverRole.NONE,
        help_text="Who approves the rollout's start (a patch policy's approval step): the "
        "first wave to deploy waits for this role's approval, whatever its ring says.",
    )
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state=RolloutState.HALTED) | models.Q(halted_at__isnull=False),
                name="%(app_label)s_%(class)s_halted_has_time",
                violation_error_message="A halted rollout needs its halt time.",
            ),
            models.CheckConstraint(
                condition=models.Q(is_expedited=False)
                | models.Q(expedite_soak_hours__isnull=False),
                name="%(app_label)s_%(class)s_expedited_has_soak",
                violation_error_message="An expedited rollout needs its shortened soak.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def state_color(self) -> str:
        return RolloutState(self.state).color


class Wave(models.Model):
    """The rollout in one ring. Deployment and verification are separate states and times."""

    # Shown inside the rollout: its changes move the rollout's updated_at (common.apisync).
    sync_parent = "rollout"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="waves")
    ring = models.ForeignKey(Ring, on_delete=models.PROTECT, related_name="waves")
    order = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=WaveState.choices, default=WaveState.PENDING)
    soak_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="This wave's own soak (expedited); else the ring's."
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    window_confirmed_at = models.DateTimeField(null=True, blank=True)
    caught_up = models.BooleanField(default=False)
    notes = models.JSONField(default=list, blank=True, help_text="[{at, note}] in order")
    awaiting_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    deploying_at = models.DateTimeField(null=True, blank=True)
    deployed_at = models.DateTimeField(null=True, blank=True)
    verifying_at = models.DateTimeField(null=True, blank=True)
    soak_started_at = models.DateTimeField(null=True, blank=True)
    soak_ends_at = models.DateTimeField(null=True, blank=True)
    passed_at = models.DateTimeField(null=True, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)
    halted_at = models.DateTimeField(null=True, blank=True)
    halt_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    halted_from = models.CharField(
        max_length=10, choices=WaveState.choices, blank=True, help_text="State before the halt."
    )
    resumed_at = models.DateTimeField(null=True, blank=True)
    accepted_failed = models.PositiveIntegerField(
        default=0, help_text="Failed results a person accepted when resuming after a halt."
    )
    accepted_attempted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rollout", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "ring"],
                name="%(app_label)s_%(class)s_one_per_ring",
                violation_error_message="A rollout has one wave per ring.",
            ),
            models.UniqueConstraint(
                fields=["rollout", "order"], name="%(app_label)s_%(class)s_unique_order"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=WaveState.SOAKING) | models.Q(soak_ends_at__isnull=False),
                name="%(app_label)s_%(class)s_soaking_has_end",
                violation_error_message="A soaking wave needs its soak end.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rollout} · {self.ring}"

    def counts(self) -> dict[str, int]:
        """Per-status counts of the deployment results, plus ``attempted`` and ``total``.

        Uses the ``n_<status>`` annotations of ``rings.selectors.visible_rollouts`` when present
        (one query for a whole board), else counts with one query.
        """
        counts = {s.value: 0 for s in DeploymentStatus}
        if all(hasattr(self, f"n_{s}") for s in counts):
            counts = {s: getattr(self, f"n_{s}") for s in counts}
        else:
            rows = self.results.values("status").annotate(n=models.Count("id"))
            for row in rows:
                counts[row["status"]] = row["n"]
        counts["attempted"] = sum(v for k, v in counts.items() if k != DeploymentStatus.PENDING)
        counts["total"] = counts["attempted"] + counts[DeploymentStatus.PENDING]
        return counts

    def failure_rate(self, counts: dict[str, int] | None = None) -> Decimal | None:
        """Failed ÷ attempted deployment results of this wave, in percent (None before any)."""
        counts = counts or self.counts()
        if not counts["attempted"]:
            return None
        return (Decimal(counts[DeploymentStatus.FAILED]) * 100 / counts["attempted"]).quantize(
            Decimal("0.01")
        )

    @property
    def state_color(self) -> str:
        return WaveState(self.state).color

    @property
    def soak(self) -> timedelta:
        return timedelta(hours=self.soak_hours) if self.soak_hours is not None else self.ring.soak

    @property
    def effective_soak_hours(self) -> int:
        return self.soak_hours if self.soak_hours is not None else self.ring.soak_hours

    def breach_rate(self, counts: dict[str, int] | None = None) -> Decimal | None:
        """The failure rate the ring's threshold is held against: results a person accepted
        when resuming after a halt are left out (the reported failure rate keeps them)."""
        counts = counts or self.counts()
        attempted = counts["attempted"] - self.accepted_attempted
        if attempted <= 0:
            return None
        failed = max(counts[DeploymentStatus.FAILED] - self.accepted_failed, 0)
        return (Decimal(failed) * 100 / attempted).quantize(Decimal("0.01"))


class Approval(models.Model):
    """Approval of promotion into a wave's ring, by a user holding the ring's approver role."""

    wave = models.OneToOneField(Wave, on_delete=models.CASCADE, related_name="approval")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    role = models.CharField(max_length=20, choices=ApproverRole.choices)
    approved_at = models.DateTimeField()
    note = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)

    def __str__(self) -> str:
        return f"{self.wave} approved by {self.approved_by_id}"


class DeploymentResult(models.Model):
    """One asset in one wave: deployed and verified are separate, each with its own time."""

    # Shown inside the rollout: its changes move the rollout's updated_at (common.apisync).
    sync_parent = "wave__rollout"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="results")
    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=12, choices=DeploymentStatus.choices, default=DeploymentStatus.PENDING
    )
    restart_mode = models.CharField(max_length=10, choices=RestartMode.choices, blank=True)
    reboot_policy = models.CharField(max_length=20, blank=True)
    needs_snapshot = models.BooleanField(default=False)
    snapshot_requested_at = models.DateTimeField(null=True, blank=True)
    snapshot_confirmed_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    deployed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    caught_up = models.BooleanField(default=False)
    message = models.TextField(max_length=LOG_MAX_LENGTH, blank=True)
    os_records_checked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the asset's OS install records, covering the deployment, were checked.",
    )
    missing_os_record = models.BooleanField(
        default=False,
        help_text="Reported installed, but the OS's own records do not show the install.",
    )

    class Meta:
        ordering = ["wave", "asset__hostname"]
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "asset"], name="%(app_label)s_%(class)s_one_per_asset"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=DeploymentStatus.VERIFIED)
                | models.Q(verified_at__isnull=False, deployed_at__isnull=False),
                name="%(app_label)s_%(class)s_verified_after_deployed",
                violation_error_message="Verified needs deployment and verification times.",
            ),
        ]
        indexes = [models.Index(fields=["status", "attempted_at"], name="rings_result_attempted")]

    def __str__(self) -> str:
        return f"{self.asset_id} in {self.wave_id}: {self.status}"


class RunbookCheck(models.Model):
    """A workload spot-check the client wants done after patching (e-mail, EHR, files…)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    halts_on_failure = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class RunbookCheckResult(models.Model):
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="runbook_results")
    runbook_check = models.ForeignKey(
        RunbookCheck, on_delete=models.PROTECT, related_name="results"
    )
    passed = models.BooleanField()
    recorded_by = models.CharField(max_length=200)
    recorded_at = models.DateTimeField()
    note = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["wave", "runbook_check__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "runbook_check"],
                name="%(app_label)s_%(class)s_once_per_wave",
                violation_error_message="This check is already recorded for the wave.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.runbook_check_id}: {'pass' if self.passed else 'fail'}"


class RollbackEvent(models.Model):
    """A rollback: who, when, what and with which outcome.

    Requested through PatchOps it queues one rollback job per asset (agent or RMM) and stays
    ``pending`` until every target reported; a rollback done by hand elsewhere is recorded with
    its outcome at once (``is_manual``)."""

    # Shown inside the rollout: its changes move the rollout's updated_at (common.apisync).
    sync_parent = "rollout"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="rollbacks")
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="rollbacks"
    )
    assets = models.ManyToManyField("inventory.Asset", related_name="+", blank=True)
    actor = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    what = models.TextField(max_length=TEXT_MAX_LENGTH)
    outcome = models.CharField(max_length=10, choices=RollbackOutcome.choices)
    is_manual = models.BooleanField(default=False)
    connector = models.CharField(max_length=20, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"Rollback {self.what[:40]} ({self.outcome})"

    @property
    def outcome_color(self) -> str:
        return RollbackOutcome(self.outcome).color


class RollbackTarget(models.Model):
    """One asset of a requested rollback, with the result its agent or the RMM reported."""

    # Shown inside the rollout: its changes move the rollout's updated_at (common.apisync).
    sync_parent = "rollback__rollout"

    rollback = models.ForeignKey(RollbackEvent, on_delete=models.CASCADE, related_name="targets")
    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey(
        DeploymentResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    packages = models.JSONField(default=list, blank=True, help_text="[{name, version, advisory}]")
    status = models.CharField(
        max_length=12, choices=RollbackTargetStatus.choices, default=RollbackTargetStatus.PENDING
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(max_length=LOG_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["rollback", "asset__hostname"]
        constraints = [
            models.UniqueConstraint(
                fields=["rollback", "asset"], name="%(app_label)s_%(class)s_one_per_asset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} in rollback {self.rollback_id}: {self.status}"
