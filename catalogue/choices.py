from django.db import models

__all__ = [
    "SeverityTier",
    "AdvisorySource",
    "Ecosystem",
    "ImportKind",
    "ImportStatus",
    "SsvcExploitation",
]


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


class Ecosystem(models.TextChoices):
    """How a fix's versions compare (``catalogue.versions``)."""

    WINDOWS = "windows", "Windows build"
    UBUNTU = "ubuntu", "Ubuntu (dpkg)"
    DEBIAN = "debian", "Debian (dpkg)"
    RPM = "rpm", "RPM"
    ALPINE = "alpine", "Alpine (apk)"
    MAVEN = "maven", "Maven"
    PYPI = "pypi", "PyPI"
    NPM = "npm", "npm"
    GO = "go", "Go"
    NUGET = "nuget", "NuGet"
    GEM = "gem", "RubyGems"
    CARGO = "cargo", "crates.io"
    COMPOSER = "composer", "Packagist"
    MACOS = "macos", "macOS application"
    OTHER = "other", "Other"


class ImportKind(models.TextChoices):
    KEV = "kev", "CISA KEV"
    EPSS = "epss", "FIRST EPSS"
    NVD = "nvd", "NVD CVE API 2.0"
    CVE5 = "cve5", "CVE JSON 5"
    MSRC = "msrc", "MSRC CVRF"
    OSV = "osv", "OSV"
    DEBIAN = "debian", "Debian security tracker"


class ImportStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SsvcExploitation(models.TextChoices):
    """CISA SSVC "Exploitation" decision point, normalised to lower case."""

    NONE = "none", "None"
    POC = "poc", "Proof of concept"
    ACTIVE = "active", "Active"
    UNKNOWN = "", "Unknown"
