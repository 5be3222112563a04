"""Integrations (tenant schema): PSA tickets, agent jobs, RMM webhooks and the outbox through
which every outbound call leaves."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from common.limits import TEXT_MAX_LENGTH

from .choices import (
    DeliveryKind,
    DeliveryState,
    JobAction,
    JobStatus,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)

__all__ = ["PsaTicket", "AgentJob", "RmmWebhook", "OutboxMessage", "MAX_ATTEMPTS_LIMIT"]

# The most attempts any outbox message may get (the delivery task's ``max_retries`` + 1).
MAX_ATTEMPTS_LIMIT = 25


class PsaTicket(models.Model):
    """A ticket waiting in the outbox for the PSA integration to deliver it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    category = models.CharField(max_length=12, choices=TicketCategory.choices)
    summary = models.CharField(max_length=250)
    description = models.TextField(blank=True)
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    related = models.JSONField(
        default=dict, blank=True, help_text='{"rollout": uuid, "wave": uuid, "assets": [uuid…]}'
    )
    created_at = models.DateTimeField()
    is_after_hours = models.BooleanField(
        default=False, help_text="Opened outside the client's business hours (client time zone)."
    )
    status = models.CharField(
        max_length=10, choices=TicketStatus.choices, default=TicketStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="integrations_ticket_outbox")]

    def __str__(self) -> str:
        return self.summary


class AgentJob(models.Model):
    """A job the agent of one asset polls for and runs with the platform's package tool."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    asset = models.ForeignKey(
        "inventory.Asset", on_delete=models.CASCADE, related_name="agent_jobs"
    )
    agent_id = models.CharField(max_length=255)
    wave = models.ForeignKey(
        "rings.Wave", null=True, blank=True, on_delete=models.SET_NULL, related_name="agent_jobs"
    )
    rollback = models.ForeignKey(
        "rings.RollbackEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agent_jobs",
        help_text="The rollback a rollback job belongs to.",
    )
    action = models.CharField(max_length=10, choices=JobAction.choices)
    packages = models.JSONField(default=list, blank=True, help_text="[{name, version, advisory}]")
    reboot_policy = models.CharField(max_length=20, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    dry_run_results = models.JSONField(
        default=list, blank=True, help_text="Dry-run reports: recorded, never counted as deployed."
    )

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["agent_id", "status"], name="integrations_job_agent")]

    def __str__(self) -> str:
        return f"{self.action} on {self.agent_id} ({self.status})"


class RmmWebhook(models.Model):
    """An RMM that executes waves: PatchOps posts signed JSON to it (through the outbox)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    url = models.URLField()
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key for X-PatchOps-Signature")
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    max_attempts = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ATTEMPTS_LIMIT)],
        help_text="Attempts per call before it is given up (dead); retries back off exponentially.",
    )
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class OutboxMessage(models.Model):
    """One outbound call. It is written in the transaction of the change that causes it and sent
    by a Celery task after that transaction commits, with retries; the same logical message
    (same ``idempotency_key``) is one row, and the key travels as the ``Idempotency-Key`` header.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=DeliveryKind.choices)
    event = models.CharField(max_length=60, help_text="What the call says, e.g. wave.deploy.")
    target = models.CharField(max_length=1000, help_text="Where it is sent (URL).")
    rmm_webhook = models.ForeignKey(
        RmmWebhook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="The RMM webhook whose secret signs the call.",
    )
    payload = models.JSONField(help_text="The JSON body, as sent.")
    idempotency_key = models.CharField(max_length=200, unique=True)
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=64, blank=True, help_text="Public id of the subject.")
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(MAX_ATTEMPTS_LIMIT)]
    )
    last_error = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="integrations_outbox_state"),
            models.Index(fields=["subject_type", "subject_id"], name="integrations_outbox_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.target} ({self.state}, {self.attempts} attempts)"

    @property
    def state_color(self) -> str:
        return DeliveryState(self.state).color

    @property
    def is_dead(self) -> bool:
        return self.state == DeliveryState.DEAD
