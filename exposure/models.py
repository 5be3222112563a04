"""Exposure monitoring (tenant schema): the feeds that send credential alerts, the alerts (one
per breach of one address, duplicates merged) and the steps of each alert's response."""

from __future__ import annotations

import uuid

from django.db import models

from .choices import ResetVia, Step, StepState, Via

__all__ = ["ExposureFeed", "ExposureAlert", "ExposureStep"]


class ExposureFeed(models.Model):
    """A monitoring service that posts alerts to its signed webhook (``webhooks.verify``
    scheme: ``X-PatchOps-Timestamp``, ``X-PatchOps-Signature: v1=…``, ``X-PatchOps-Delivery``)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key of the signature")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class ExposureAlert(models.Model):
    """One exposure of one address in one breach. The same (address, source, what was exposed,
    breach) reported again within ``EXPOSURE_DEDUP_WINDOW_DAYS`` is merged into it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254)
    source = models.CharField(max_length=100, help_text="Who reported it, e.g. HIBP")
    exposed = models.CharField(max_length=200, help_text="What was exposed, e.g. password")
    breach = models.CharField(max_length=200, help_text="The breach or paste it was seen in")
    exposed_at = models.DateTimeField(null=True, blank=True, help_text="When it was exposed")
    dedup_key = models.CharField(max_length=64, db_index=True)
    via = models.CharField(max_length=10, choices=Via.choices)
    feed = models.ForeignKey(
        ExposureFeed, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    received_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="Every step of the response is due by then.")
    duplicates = models.PositiveIntegerField(default=0)
    last_received_at = models.DateTimeField()
    reset_via = models.CharField(max_length=10, choices=ResetVia.choices)
    ticket_uuid = models.UUIDField(null=True, blank=True, help_text="The PSA ticket opened")
    received_by = models.CharField(max_length=200)
    # Moves with the alert and with any of its steps (``ExposureStep.sync_parent``).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["dedup_key", "received_at"])]

    def __str__(self) -> str:
        return f"{self.email} in {self.breach} ({self.source})"

    @property
    def responded_at(self):
        """When the last step was done (None while one is not)."""
        steps = list(self.steps.all())
        if not steps or any(s.state != StepState.DONE for s in steps):
            return None
        return max(s.done_at for s in steps)

    @property
    def response_minutes(self) -> int | None:
        done = self.responded_at
        if done is None:
            return None
        return int((done - self.received_at).total_seconds() // 60)

    @property
    def sla_met(self) -> bool | None:
        """True: every step done by the due time; False: one was late or is overdue; None:
        still within the clock."""
        steps = list(self.steps.all())
        if any(s.done_at is not None and s.done_at > self.due_at for s in steps):
            return False
        if all(s.state == StepState.DONE for s in steps) and steps:
            return True
        return False if any(s.overdue_at for s in steps) else None


class ExposureStep(models.Model):
    """One step of an alert's response, timed against the alert's due time."""

    alert = models.ForeignKey(ExposureAlert, on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(max_length=10, choices=Step.choices)
    state = models.CharField(max_length=10, choices=StepState.choices, default=StepState.WAITING)
    started_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="Ticket, call or task")
    detail = models.TextField(blank=True, max_length=2000, help_text="In plain words")
    overdue_at = models.DateTimeField(null=True, blank=True)

    # A step shown inside its alert: a change to it moves the alert's updated_at.
    sync_parent = "alert"

    class Meta:
        ordering = ["alert", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "step"], name="exposure_one_step_of_a_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} of {self.alert} ({self.get_state_display()})"

    @property
    def minutes(self) -> int | None:
        if self.done_at is None:
            return None
        return int((self.done_at - self.alert.received_at).total_seconds() // 60)

    @property
    def within_sla(self) -> bool | None:
        if self.done_at is None:
            return False if self.overdue_at else None
        return self.done_at <= self.alert.due_at
