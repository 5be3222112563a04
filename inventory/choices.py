from django.db import models

__all__ = [
    "AssetRole",
    "AssetSource",
    "DataFlow",
    "SoftwareCategory",
    "SoftwareKind",
    "UpdateSource",
    "ReportedSeverity",
    "SoftwareChangeKind",
    "DiscoveryRunStatus",
    "DiscoveryRunSource",
    "UnknownDeviceState",
    "InstallRecordSource",
    "InstallOutcome",
    "RebootApproval",
]


class AssetRole(models.TextChoices):
    SERVER = "server", "Server"
    WORKSTATION = "workstation", "Workstation"
    SHARED_KIOSK = "shared_kiosk", "Shared kiosk"
    NETWORK = "network", "Network device"
    OTHER = "other", "Other"


class AssetSource(models.TextChoices):
    AGENT = "agent", "Agent push"
    OSQUERY = "osquery", "osquery file"
    CSV = "csv", "CSV import"
    NMAP = "nmap", "Nmap scan"
    SYSTEMINFO = "systeminfo", "Windows systeminfo"
    QFE = "qfe", "Windows wmic qfe"
    DPKG = "dpkg", "dpkg-query list"
    MANUAL = "manual", "Entered by hand"
    RMM = "rmm", "RMM pull"


class DataFlow(models.TextChoices):
    CREATES = "creates", "Creates"
    RECEIVES = "receives", "Receives"
    TRANSMITS = "transmits", "Transmits"


class SoftwareCategory(models.TextChoices):
    BROWSER = "browser", "Browser"
    PDF_TOOL = "pdf_tool", "PDF tool"
    REMOTE_ACCESS = "remote_access", "Remote access"
    JAVA = "java", "Java"
    LINE_OF_BUSINESS = "line_of_business", "Line of business"
    OS_PACKAGE = "os_package", "OS package"
    OS_UPDATE = "os_update", "OS update (KB)"
    OTHER = "other", "Other"


class SoftwareKind(models.TextChoices):
    """Which osquery table (or import) the row came from; decides the version rules."""

    PROGRAM = "program", "Windows program"
    HOTFIX = "hotfix", "Windows hotfix (KB)"
    DEB = "deb", "Debian package"
    RPM = "rpm", "RPM package"
    APK = "apk", "Alpine package"
    APP = "app", "macOS app"
    HOMEBREW = "homebrew", "Homebrew package"
    OTHER = "other", "Other"


class UpdateSource(models.TextChoices):
    APT = "apt", "apt"
    DNF = "dnf", "dnf"
    WINDOWS_UPDATE = "windows_update", "Windows Update"
    SOFTWAREUPDATE = "softwareupdate", "macOS softwareupdate"
    WINGET = "winget", "winget"
    OTHER = "other", "Other"


class ReportedSeverity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    UNKNOWN = "unknown", "Unknown"


class SoftwareChangeKind(models.TextChoices):
    INSTALLED = "installed", "Installed"
    REMOVED = "removed", "Removed"
    UPGRADED = "upgraded", "Version changed"


class DiscoveryRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Succeeded with errors"
    FAILED = "failed", "Failed"


class DiscoveryRunSource(models.TextChoices):
    AGENT = "agent", "Agent push"
    FILE = "file", "File import"
    SCHEDULE = "schedule", "Scheduled discovery"
    NMAP = "nmap", "Nmap scan"
    RMM = "rmm", "RMM pull"


class UnknownDeviceState(models.TextChoices):
    NEW = "new", "New"
    ADOPTED = "adopted", "Adopted"
    DISMISSED = "dismissed", "Dismissed"


class InstallRecordSource(models.TextChoices):
    """Where an OS install record comes from (the agent's ``osrecords`` parsers)."""

    WINDOWS_UPDATE = "windows_update", "Windows Update client events (System log)"
    SOFTWAREUPDATE = "softwareupdate", "macOS softwareupdate --history"
    INSTALL_LOG = "install_log", "macOS /var/log/install.log"
    APT_HISTORY = "apt_history", "apt history.log"
    DPKG_LOG = "dpkg_log", "dpkg.log"
    DNF_RPM_LOG = "dnf_rpm_log", "dnf.rpm.log"
    YUM_LOG = "yum_log", "yum.log"


class InstallOutcome(models.TextChoices):
    INSTALLED = "installed", "Installed"
    FAILED = "failed", "Failed"
    REMOVED = "removed", "Removed"
    STARTED = "started", "Started"


class RebootApproval(models.TextChoices):
    AWAITING = "awaiting", "Reboot pending approval"
    APPROVED = "approved", "Reboot approved"
