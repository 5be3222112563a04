"""The webhook event catalogue: what an endpoint may subscribe to."""

from __future__ import annotations

from django.db import models

__all__ = ["WebhookEvent", "SOURCE_KINDS", "TEST_EVENT", "DELIVERY_KIND"]

# The outbox kind of webhook deliveries (``integrations.outbox``).
DELIVERY_KIND = "webhook"
# Sent by the "send test" button through the same path as every other delivery.
TEST_EVENT = "webhook.test"


class WebhookEvent(models.TextChoices):
    FINDING_OVERDUE = "finding.overdue", "A finding passed its SLA due date"
    FINDING_VERIFIED = "finding.verified", "A finding was verified fixed"
    ROLLOUT_HALTED = "rollout.halted", "A rollout was halted"
    ROLLOUT_COMPLETED = "rollout.completed", "A rollout completed"
    EXCEPTION_REQUESTED = "exception.requested", "An exception was requested"
    EXCEPTION_SIGNED = "exception.signed", "An exception was signed"
    EXCEPTION_EXPIRING = "exception.expiring", "An exception expires soon (14, 7, 1 days)"
    REPORT_READY = "report.ready", "A report is ready to download"


# Evidence event kind → webhook event type.
SOURCE_KINDS: dict[str, str] = {
    "finding.overdue": WebhookEvent.FINDING_OVERDUE,
    "finding.verified": WebhookEvent.FINDING_VERIFIED,
    "rollout.halted": WebhookEvent.ROLLOUT_HALTED,
    "rollout.completed": WebhookEvent.ROLLOUT_COMPLETED,
    "exception.requested": WebhookEvent.EXCEPTION_REQUESTED,
    "exception.signed": WebhookEvent.EXCEPTION_SIGNED,
    "exception.expiring": WebhookEvent.EXCEPTION_EXPIRING,
    "report.generated": WebhookEvent.REPORT_READY,
}
