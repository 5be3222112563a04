from django.db import models

__all__ = ["SeverityTier", "AdvisorySource"]


class SeverityTier(models.TextChoices):
    """The tiers every number is reported by (DESIGN: Severity tier)."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    UNKNOWN = "unknown", "Unknown"


class AdvisorySource(models.TextChoices):
    MSRC = "msrc", "Microsoft (MSRC)"
    UBUNTU = "ubuntu", "Ubuntu (USN)"
    DEBIAN = "debian", "Debian (DSA/DLA)"
    GHSA = "ghsa", "GitHub advisory"
    OSV = "osv", "OSV"
    REDHAT = "redhat", "Red Hat (RHSA)"
    VENDOR = "vendor", "Other vendor"
    DEVICE = "device", "Reported by the device"
