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
