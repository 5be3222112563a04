from django.db import models

from catalogue.choices import SeverityTier

__all__ = [
    "SeverityTier",
    "FindingState",
    "FindingOrigin",
    "RebootPolicy",
    "TriageKind",
    "TriageState",
    "TIER_COLOR",
    "FINDING_STATE_COLOR",
]


class FindingState(models.TextChoices):
    """open → scheduled → deployed → verified, or failed, excepted, not applicable.

    Only ``verified`` closes a finding: deployment is not verification.
    """

    OPEN = "open", "Open"
    SCHEDULED = "scheduled", "Scheduled"
    DEPLOYED = "deployed", "Deployed"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"
    EXCEPTED = "excepted", "Excepted"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class FindingOrigin(models.TextChoices):
    PENDING_UPDATE = "pending_update", "Reported pending by the device"
    ADVISORY_MATCH = "advisory_match", "Installed version older than the advisory's fix"


class RebootPolicy(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled time"
    USER_PROMPTED = "user_prompted", "User prompted"
    MANUAL_APPROVAL = "manual_approval", "Manual approval"


# Badge colours (static/css/app.css), taken from the choices rather than template if-chains.
TIER_COLOR = {
    SeverityTier.CRITICAL: "red",
    SeverityTier.HIGH: "orange",
    SeverityTier.MEDIUM: "blue",
    SeverityTier.LOW: "gray",
    SeverityTier.UNKNOWN: "gray",
}
FINDING_STATE_COLOR = {
    FindingState.OPEN: "orange",
    FindingState.SCHEDULED: "blue",
    FindingState.DEPLOYED: "blue",
    FindingState.VERIFIED: "green",
    FindingState.FAILED: "red",
    FindingState.EXCEPTED: "gray",
    FindingState.NOT_APPLICABLE: "gray",
}


class TriageKind(models.TextChoices):
    """Why a finding needs no fix: both close it as ``not_applicable`` once approved."""

    NOT_APPLICABLE = "not_applicable", "Not applicable"
    FALSE_POSITIVE = "false_positive", "False positive"


class TriageState(models.TextChoices):
    """pending → approved (the finding closes) or rejected (it stays open work)."""

    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
