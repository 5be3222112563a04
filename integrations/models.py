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
    PsaKind,
    PullStatus,
    RmmKind,
    TicketCategory,
    TicketMeaning,
    TicketPriority,
    TicketSource,
    TicketStatus,
)

__all__ = [
    "PsaConnection",
    "PsaTicket",
    "AgentJob",
    "RmmWebhook",
    "RmmConnection",
    "OutboxMessage",
    "ScanSubnet",
    "MAX_ATTEMPTS_LIMIT",
]

# The most attempts any outbox message may get (the delivery task's ``max_retries`` + 1).
MAX_ATTEMPTS_LIMIT = 25


def default_priority_map() -> dict[str, str]:
    return {"critical": "", "high": "", "medium": "", "low": ""}


class PsaConnection(models.Model):
    """The client's PSA (ConnectWise Manage, Autotask or HaloPSA): where its tickets go, how
    PatchOps signs in, which company and board/queue they belong to, how priorities and statuses
    translate, and the secret that signs the PSA's calls back (webhooks/callbacks)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=PsaKind.choices)
    base_url = models.URLField(
        help_text="REST root, e.g. https://na.myconnectwise.net/v4_6_release/apis/3.0, "
        "https://webservices2.autotask.net/atservicesrest/v1.0 or https://acme.halopsa.com"
    )
    # Credentials (their meaning depends on the kind; see the README).
    login_company = models.CharField(
        max_length=120,
        blank=True,
        help_text="ConnectWise: company id of the sign-in; HaloPSA: tenant.",
    )
    api_user = models.CharField(
        max_length=200,
        blank=True,
        help_text="ConnectWise: public key; Autotask: UserName; HaloPSA: client id.",
    )
    api_secret = models.CharField(
        max_length=500,
        blank=True,
        help_text="ConnectWise: private key; Autotask: Secret; HaloPSA: client secret.",
    )
    app_id = models.CharField(
        max_length=200,
        blank=True,
        help_text="ConnectWise: clientId header; Autotask: ApiIntegrationCode.",
    )
    # Where the client's tickets live in the PSA.
    company_ref = models.CharField(
        max_length=120, help_text="The client's company id in the PSA (HaloPSA: client id)."
    )
    board_ref = models.CharField(
        max_length=120,
        blank=True,
        help_text="ConnectWise: service board id; Autotask: queue id; HaloPSA: team id.",
    )
    new_status_ref = models.CharField(
        max_length=60,
        blank=True,
        help_text="PSA status id of a new ticket (blank: the PSA's default).",
    )
    closed_status_ref = models.CharField(
        max_length=60, help_text="PSA status id PatchOps sets when it closes a ticket."
    )
    priority_map = models.JSONField(
        default=default_priority_map,
        blank=True,
        help_text='PatchOps priority → PSA priority id, e.g. {"critical": "1", "high": "2"}.',
    )
    status_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='PSA status id or name → open, in_progress or closed, e.g. {"5": "closed"}.',
    )
    # What opens tickets.
    tickets_for_overdue = models.BooleanField(default=True)
    overdue_min_severity = models.CharField(
        max_length=10, default="critical", help_text="Lowest severity of an overdue finding."
    )
    tickets_for_exceptions = models.BooleanField(default=True)
    # The way back.
    webhook_secret = models.CharField(
        max_length=500,
        blank=True,
        help_text="ConnectWise: callback signing key; Autotask: webhook SecretKey; "
        "HaloPSA: webhook Basic password.",
    )
    webhook_username = models.CharField(
        max_length=120, blank=True, help_text="HaloPSA: webhook Basic user name."
    )
    poll = models.BooleanField(default=True, help_text="Read the PSA's tickets on the beat.")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    access_token = models.TextField(blank=True, help_text="HaloPSA: the current bearer token.")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    max_attempts = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(MAX_ATTEMPTS_LIMIT)]
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class PsaTicket(models.Model):
    """A ticket: opened by PatchOps (delivered to the PSA through the outbox) or reported by the
    PSA for the client's company and board (polled or pushed by its webhook)."""

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
    connection = models.ForeignKey(
        PsaConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    source = models.CharField(
        max_length=10, choices=TicketSource.choices, default=TicketSource.PATCHOPS
    )
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    external_status = models.CharField(max_length=120, blank=True, help_text="As the PSA says.")
    meaning = models.CharField(
        max_length=12, choices=TicketMeaning.choices, default=TicketMeaning.OPEN
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(
        max_length=255,
        blank=True,
        help_text="Who resolved it: the person whose action closed it in PatchOps, the PSA "
        "member who closed it, or psa:<kind> when the PSA does not say.",
    )
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="integrations_ticket_outbox"),
            models.Index(fields=["subject_type", "subject_id"], name="integrations_ticket_subject"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"],
                condition=~models.Q(external_id=""),
                name="integrations_ticket_external_once",
            )
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def is_closed(self) -> bool:
        return self.meaning == TicketMeaning.CLOSED


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
    action = models.CharField(max_length=20, choices=JobAction.choices)
    scan_subnet = models.ForeignKey(
        "integrations.ScanSubnet",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        help_text="The designated subnet a network_scan job scans.",
    )
    scan = models.JSONField(
        default=dict,
        blank=True,
        help_text="What a network_scan job runs: {subnet, top_ports, ports, timing}.",
    )
    packages = models.JSONField(default=list, blank=True, help_text="[{name, version, advisory}]")
    reboot_policy = models.CharField(max_length=20, blank=True)
    reboot = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the agent restarts after the job: the policy's time, notice or approval.",
    )
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
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

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


class RmmConnection(models.Model):
    """The client's RMM read side: the REST API the scheduled discovery pulls devices, their
    software and their OS updates from (Tactical RMM: ``X-API-KEY``)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=RmmKind.choices, default=RmmKind.TACTICAL)
    base_url = models.URLField(
        max_length=200, help_text="API root, e.g. https://api.rmm.example.com"
    )
    api_key = models.CharField(max_length=500, help_text="Tactical RMM: the API key (X-API-KEY).")
    site_filter = models.CharField(
        max_length=60,
        blank=True,
        help_text="Tactical RMM: pull only this client id (blank: every agent the key sees).",
    )
    timeout_seconds = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    is_enabled = models.BooleanField(default=True, help_text="Pulled by the scheduled discovery.")
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_pull_status = models.CharField(
        max_length=10, choices=PullStatus.choices, default=PullStatus.NEVER
    )
    last_pull_summary = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def source_name(self) -> str:
        """How its pulls are named on the discovery runs."""
        return f"{self.get_kind_display()} · {self.name}"[:200]

    @property
    def status_color(self) -> str:
        return PullStatus(self.last_pull_status).color


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
    psa_connection = models.ForeignKey(
        PsaConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    psa_ticket = models.ForeignKey(
        PsaTicket, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    after = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="followers",
        help_text="Sent only once this message is delivered (order per PSA ticket).",
    )
    response_body = models.TextField(
        blank=True, help_text="The start of the receiver's answer to the delivered call."
    )

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


class ScanSubnet(models.Model):
    """A subnet (CIDR) that one managed asset's agent scans with Nmap on the client's discovery
    schedule; its hosts are reconciled with the inventory (the unknown-device queue). An address
    belongs to at most one designated subnet of the client."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    scanner = models.ForeignKey(
        "inventory.Asset", on_delete=models.CASCADE, related_name="scan_subnets"
    )
    cidr = models.CharField(max_length=64, unique=True, help_text="e.g. 10.20.0.0/24")
    top_ports = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Scan Nmap's N most common ports (when no port list is given).",
    )
    ports = models.CharField(
        max_length=200, blank=True, help_text="Ports to scan instead, e.g. 22,80,443,8000-8100."
    )
    timing = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(0), MaxValueValidator(5)],
        help_text="Nmap timing template -T0 (slowest) to -T5 (fastest); 3 is Nmap's normal.",
    )
    is_enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cidr"]

    def __str__(self) -> str:
        return self.cidr
