"""Reports (tenant schema): the generated report files, each stored once with its SHA-256."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

__all__ = [
    "ReportKind",
    "RequestState",
    "ReportRequest",
    "StoredReport",
    "ImmutableReportError",
    "report_upload_to",
    "ReportRecipient",
    "DeliveryState",
    "ReportDelivery",
]


class ReportKind(models.TextChoices):
    MONTHLY = "monthly", "Monthly compliance report"
    HIPAA = "hipaa", "HIPAA-aligned evidence pack"
    QBR = "qbr", "QBR executive summary"
    INVENTORY = "inventory", "Inventory snapshot"
    EXCEPTIONS = "exceptions", "Exception register"
    BUNDLE = "bundle", "Evidence bundle (ZIP)"


def report_upload_to(instance: StoredReport, filename: str) -> str:
    return f"reports/{instance.period:%Y-%m}/{filename}"


class StoredReport(models.Model):
    """A generated report file, written once: regenerating adds a version, never overwrites."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    period = models.DateField(help_text="First day of the reported month.")
    version = models.PositiveIntegerField(default=1)
    file = models.FileField(upload_to=report_upload_to, max_length=300)
    content_type = models.CharField(max_length=100, default="application/pdf")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=200)

    class Meta:
        db_table = "evidence_storedreport"  # created by the evidence app before the move
        ordering = ["-period", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period", "version"],
                name="evidence_storedreport_unique_version",
            ),
            models.CheckConstraint(
                condition=models.Q(period__day=1),
                name="evidence_storedreport_period_first_day",
                violation_error_message="A report period is the first day of a month.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period:%Y-%m} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableReportError("A stored report never changes; generate a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableReportError("A stored report is kept; it cannot be deleted.")

    @property
    def period_label(self) -> str:
        return f"{self.period:%Y-%m}"

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""


class ImmutableReportError(Exception):
    """Raised on any attempt to change or delete a stored report."""


class RequestState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FAILED = "failed", "Failed"
    READY = "ready", "Ready"


class ReportRequest(models.Model):
    """One person's (or integration's) request for a report, from queueing to the stored file.

    The state is what the reports page and API show: queued, running (with the attempt),
    failed with the reason and a retry, or ready with the report. A re-delivered task finds
    the request already ready and stores nothing more, so each request yields one report.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    period = models.DateField()
    state = models.CharField(max_length=10, choices=RequestState.choices, default="queued")
    requested_by = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, max_length=2000)
    report = models.OneToOneField(
        StoredReport, null=True, blank=True, on_delete=models.PROTECT, related_name="request"
    )
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["state", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period:%Y-%m} ({self.get_state_display()})"

    @property
    def period_label(self) -> str:
        return f"{self.period:%Y-%m}"


class ReportRecipient(models.Model):
    """Someone who is e-mailed a link to each new report of the kinds they subscribe to.

    Managed by the client's MSP admins and account managers; the address is unique per client
    (compared without case). The e-mail never carries the file: it links to the portal, where the
    recipient signs in with this address (see ``reports.delivery``).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150)
    email = models.EmailField(max_length=254)
    kinds = models.JSONField(default=list, help_text="Report kinds e-mailed on generation.")
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("email"),
                name="reports_recipient_unique_email",
                violation_error_message="This address is already a report recipient.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def kind_labels(self) -> list[str]:
        return [ReportKind(k).label for k in self.kinds if k in ReportKind.values]


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ReportDelivery(models.Model):
    """One e-mail of one report to one recipient: at most one per (report, recipient).

    The recipient's name and address are copied when the delivery is made, so the record says
    who was e-mailed even after the recipient is changed or removed. The state is what the
    report's page and the API show; the evidence chain records each e-mail sent
    (``report.delivered``), each delivery given up (``report.delivery_failed``) and each use of
    its link (``report.delivery_opened``).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    report = models.ForeignKey(StoredReport, on_delete=models.PROTECT, related_name="deliveries")
    recipient = models.ForeignKey(
        ReportRecipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    name = models.CharField(max_length=150)
    email = models.EmailField(max_length=254)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    link_expires_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["report", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "email"], name="reports_delivery_once_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} to {self.email} ({self.get_state_display()})"
