from django.db import models

from catalogue.choices import SeverityTier

__all__ = ["SeverityTier", "FindingState", "FindingOrigin", "RebootPolicy"]


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
