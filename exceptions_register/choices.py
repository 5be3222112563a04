from django.db import models

__all__ = ["ExceptionKind", "ExceptionState", "ControlKind"]


class ExceptionKind(models.TextChoices):
    DEFERRAL = "deferral", "Deferral"
    ISOLATED_LANE = "isolated_lane", "Isolated lane"


class ExceptionState(models.TextChoices):
    """draft → pending sign-off → active → expired, revoked or rejected."""

    DRAFT = "draft", "Draft"
    PENDING_SIGNOFF = "pending_signoff", "Pending sign-off"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    REJECTED = "rejected", "Rejected"


class ControlKind(models.TextChoices):
    NETWORK_SEGMENTATION = "network_segmentation", "Network segmentation"
    RESTRICTED_ACCESS = "restricted_access", "Restricted access"
    EXTRA_MONITORING = "extra_monitoring", "Extra monitoring"
    OTHER = "other", "Other"
