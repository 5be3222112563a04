"""Exception register (tenant schema): deferrals and isolated lanes, signed and always expiring."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models

from .choices import ExceptionKind, ExceptionState

__all__ = ["RiskException"]


class RiskException(models.Model):
    """A deferral (given findings / assets) or an isolated lane (an asset that cannot patch).

    It covers its findings only while ``state == active`` and ``starts_at <= t < expires_at``:
    coverage ends at the expiry instant, before any task runs.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ExceptionKind.choices)
    state = models.CharField(
        max_length=20, choices=ExceptionState.choices, default=ExceptionState.DRAFT
    )
    reason = models.TextField()
    ticket_reference = models.CharField(max_length=100)
    assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="exceptions")
    findings = models.ManyToManyField("patchops.Finding", blank=True, related_name="exceptions")
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(ticket_reference=""),
                name="%(app_label)s_%(class)s_ticket_required",
                violation_error_message="An exception needs a PSA ticket reference.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.ticket_reference}"

    def covers_at(self, at: datetime) -> bool:
        return (
            self.state == ExceptionState.ACTIVE
            and self.starts_at is not None
            and self.starts_at <= at < self.expires_at
        )
