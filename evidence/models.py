"""Evidence (tenant schema): the append-only, hash-chained event log of one client."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.json import KeyTransform

__all__ = [
    "EvidenceEvent",
    "canonical_json",
    "GENESIS_HASH",
    "ReportKind",
    "StoredReport",
    "ImmutableReportError",
]

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, UTF-8 kept, dates as ISO 8601."""
    return json.dumps(
        value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


class EvidenceEvent(models.Model):
    """One state change. ``hash = sha256(prev_hash + canonical content)``; rows never change."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=60, help_text="e.g. finding.detected, rollout.promoted")
    actor = models.CharField(max_length=200, help_text="user e-mail, token name or system:<job>")
    subject_type = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="evidence_event_subject"),
            models.Index(fields=["kind"], name="evidence_event_kind"),
            models.Index(fields=["occurred_at"], name="evidence_event_occurred"),
            # Events naming findings in their payload (evidence.contract findings fields).
            GinIndex(KeyTransform("findings", "payload"), name="evidence_event_findings"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.kind} {self.subject_type}:{self.subject_id}"

    def content(self) -> dict[str, Any]:
        return {
            "uuid": str(self.uuid),
            "sequence": self.sequence,
            "occurred_at": self.occurred_at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "payload": json.loads(canonical_json(self.payload)),
        }

    def compute_hash(self) -> str:
        return hashlib.sha256(
            (self.prev_hash + canonical_json(self.content())).encode("utf-8")
        ).hexdigest()


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
        ordering = ["-period", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period", "version"],
                name="%(app_label)s_%(class)s_unique_version",
            ),
            models.CheckConstraint(
                condition=models.Q(period__day=1),
                name="%(app_label)s_%(class)s_period_first_day",
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
