from django.db import models

__all__ = [
    "TicketCategory",
    "TicketPriority",
    "TicketStatus",
    "JobAction",
    "JobStatus",
    "DeliveryStatus",
]


class TicketCategory(models.TextChoices):
    PATCHING = "patching", "Patching"
    BREACH = "breach", "Failure-rate breach"
    RUNBOOK = "runbook", "Runbook check failed"
    EXCEPTION = "exception", "Exception"
    OTHER = "other", "Other"


class TicketPriority(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class TicketStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class JobAction(models.TextChoices):
    INSTALL = "install", "Install"
    SNAPSHOT = "snapshot", "Snapshot"
    ROLLBACK = "rollback", "Roll back"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DISPATCHED = "dispatched", "Dispatched"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (window missed)"
    CANCELLED = "cancelled", "Cancelled"


class DeliveryStatus(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
