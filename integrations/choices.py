from django.db import models

__all__ = [
    "TicketCategory",
    "TicketPriority",
    "TicketStatus",
    "JobAction",
    "JobStatus",
    "DeliveryKind",
    "DeliveryState",
    "PsaKind",
    "TicketMeaning",
    "TicketSource",
    "RmmKind",
    "PullStatus",
]


class TicketCategory(models.TextChoices):
    PATCHING = "patching", "Patching"
    BREACH = "breach", "Failure-rate breach"
    RUNBOOK = "runbook", "Runbook check failed"
    EXCEPTION = "exception", "Exception"
    EXPOSURE = "exposure", "Credential exposure"
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
    REBOOT = "reboot", "Restart (approved)"
    NETWORK_SCAN = "network_scan", "Network scan (Nmap)"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DISPATCHED = "dispatched", "Dispatched"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (window missed)"
    CANCELLED = "cancelled", "Cancelled"


class DeliveryKind(models.TextChoices):
    """What an outbox message is, which decides how it is sent."""

    RMM_WEBHOOK = "rmm_webhook", "RMM webhook"
    CONNECTWISE = "connectwise", "ConnectWise Manage"
    AUTOTASK = "autotask", "Autotask"
    HALOPSA = "halopsa", "HaloPSA"


class PsaKind(models.TextChoices):
    """Which PSA a client's connection speaks to (each is also the kind of its outbox calls)."""

    CONNECTWISE = "connectwise", "ConnectWise Manage"
    AUTOTASK = "autotask", "Autotask"
    HALOPSA = "halopsa", "HaloPSA"


class TicketMeaning(models.TextChoices):
    """What a PSA status means to PatchOps (a connection maps each PSA status to one)."""

    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    CLOSED = "closed", "Closed"


class TicketSource(models.TextChoices):
    """Who opened a ticket: PatchOps (through the outbox) or the PSA (seen by polling/webhook)."""

    PATCHOPS = "patchops", "PatchOps"
    PSA = "psa", "PSA"


class DeliveryState(models.TextChoices):
    """Where an outbox message is on its way out (``color`` for its badge)."""

    PENDING = "pending", "Pending"
    DELIVERING = "delivering", "Delivering"
    DELIVERED = "delivered", "Delivered"
    FAILED_RETRYING = "failed_retrying", "Failed, retrying"
    DEAD = "dead", "Dead (gave up)"

    @property
    def color(self) -> str:
        return DELIVERY_STATE_COLORS.get(self.value, "gray")


DELIVERY_STATE_COLORS = {
    "pending": "gray",
    "delivering": "blue",
    "delivered": "green",
    "failed_retrying": "orange",
    "dead": "red",
}


class RmmKind(models.TextChoices):
    """RMMs whose REST API PatchOps reads devices and software from."""

    TACTICAL = "tactical", "Tactical RMM"


class PullStatus(models.TextChoices):
    NEVER = "never", "Never pulled"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Succeeded with errors"
    FAILED = "failed", "Failed"

    @property
    def color(self) -> str:
        return {"succeeded": "green", "partial": "orange", "failed": "red"}.get(self.value, "gray")
