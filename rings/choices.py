from django.db import models

__all__ = [
    "RingAssignment",
    "ApproverRole",
    "MembershipSource",
    "WindowScope",
    "WindowRecurrence",
    "RolloutState",
    "RolloutSelection",
    "WaveState",
    "DeploymentStatus",
    "RestartMode",
    "RollbackOutcome",
]


class RingAssignment(models.TextChoices):
    """How the automatic assignment fills a ring."""

    CANARY = "canary", "Canary sample"
    PILOT = "pilot", "Pilot share of the fleet"
    PRODUCTION = "production", "The rest of the fleet"
    MANUAL = "manual", "Pinned members only"


class ApproverRole(models.TextChoices):
    MSP_ADMIN = "msp_admin", "MSP admin"
    ENGINEER = "engineer", "Engineer"
    CLIENT_OWNER = "client_owner", "Client owner"


class MembershipSource(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    PINNED = "pinned", "Pinned by hand"


class WindowScope(models.TextChoices):
    CLIENT = "client", "Whole client"
    SITE = "site", "Site"
    ASSET_CLASS = "asset_class", "Asset class"


class WindowRecurrence(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY_DAY = "monthly_day", "Monthly, by day"
    MONTHLY_NTH_WEEKDAY = "monthly_nth_weekday", "Monthly, nth weekday"
    PATCH_TUESDAY = "patch_tuesday", "Relative to Patch Tuesday"


class RolloutState(models.TextChoices):
    ACTIVE = "active", "Active"
    HALTED = "halted", "Halted"
    COMPLETED = "completed", "Completed"

    @property
    def color(self) -> str:
        return {"active": "blue", "halted": "red", "completed": "green"}[self.value]


class RolloutSelection(models.TextChoices):
    FINDINGS = "findings", "Chosen findings"
    PATCH_IDENTIFIERS = "patch_identifiers", "Chosen patch identifiers"
    CRITICAL_FOR_OS = "critical_for_os", "All approved critical patches for an OS family"


class WaveState(models.TextChoices):
    """pending → awaiting → prechecks → deploying → deployed → verifying → soaking → passed,
    or halted."""

    PENDING = "pending", "Pending"
    AWAITING = "awaiting", "Awaiting approval / window"
    PRECHECKS = "prechecks", "Pre-checks"
    DEPLOYING = "deploying", "Deploying"
    DEPLOYED = "deployed", "Deployed"
    VERIFYING = "verifying", "Verifying"
    SOAKING = "soaking", "Soaking"
    PASSED = "passed", "Passed"
    HALTED = "halted", "Halted"

    @property
    def color(self) -> str:
        return WAVE_COLORS.get(self.value, "gray")


WAVE_COLORS = {
    "awaiting": "orange",
    "prechecks": "blue",
    "deploying": "blue",
    "deployed": "blue",
    "verifying": "blue",
    "soaking": "blue",
    "passed": "green",
    "halted": "red",
}


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DEPLOYED = "deployed", "Deployed"
    FAILED = "failed", "Failed"
    VERIFIED = "verified", "Verified"
    ROLLED_BACK = "rolled_back", "Rolled back"


class RestartMode(models.TextChoices):
    AUTOMATED = "automated", "Automated restart"
    MANUAL = "manual", "Manual restart"


class RollbackOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partially succeeded"
    FAILED = "failed", "Failed"
