"""Integrations (tenant schema): the PSA ticket outbox, agent jobs and RMM webhooks."""

from __future__ import annotations

import uuid

from django.db import models

from .choices import (
    DeliveryStatus,
    JobAction,
    JobStatus,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)

__all__ = ["PsaTicket", "AgentJob", "RmmWebhook", "WebhookDelivery"]


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
    """An RMM that executes waves: PatchOps posts signed JSON to it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    url = models.URLField()
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key for X-PatchOps-Signature")
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One outbound webhook call with its attempts (retries are recorded)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(RmmWebhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} ({self.status}, {self.attempts} attempts)"
