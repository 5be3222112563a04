from django.db import models

__all__ = [
    "RingAssignment",
    "ApproverRole",
    "MembershipSource",
    "PlacementTrigger",
    "WindowScope",
    "WindowRecurrence",
    "RolloutState",
    "RolloutSelection",
    "WaveState",
    "DeploymentStatus",
    "RestartMode",
    "RollbackOutcome",
    "RollbackTargetStatus",
    "PolicyRunOutcome",
]


class RingAssignment(models.TextChoices):
    """How the automatic assignment fills a ring."""

    CANARY = "canary", "Canary sample"
    PILOT = "pilot", "Pilot share of the fleet"
    PRODUCTION = "production", "The rest of the fleet"
    MANUAL = "manual", "Pinned members only"


class ApproverRole(models.TextChoices):
    """Who approves promotion into a ring. ``none``: the ring promotes on its own once the
    previous ring's soak, the failure threshold and the runbook checks allow it."""

    MSP_ADMIN = "msp_admin", "MSP admin"
    ENGINEER = "engineer", "Engineer"
    CLIENT_OWNER = "client_owner", "Client owner"
    NONE = "none", "No one (promotes on its own)"


class MembershipSource(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    PINNED = "pinned", "Pinned by hand"


class PlacementTrigger(models.TextChoices):
    """What placed an asset in its ring (and what started a placement run)."""

    FIRST_SEEN = "first_seen", "Placed when first seen"
    SCHEDULE = "schedule", "Scheduled re-balance"
    REQUEST = "request", "Assignment run by a person"
    RING_REMOVED = "ring_removed", "Its ring was deleted"
    PIN = "pin", "Pinned by hand"


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
    """active → completed, or halted (and resumed), or ended with nothing deployed: a rollout
    whose every wave was skipped or deployed nothing is never a success."""

    ACTIVE = "active", "Active"
    HALTED = "halted", "Halted"
    COMPLETED = "completed", "Completed"
    NOTHING_DEPLOYED = "nothing_deployed", "Ended: nothing deployed"

    @property
    def color(self) -> str:
        return {
            "active": "blue",
            "halted": "red",
            "completed": "green",
            "nothing_deployed": "orange",
        }[self.value]


class RolloutSelection(models.TextChoices):
    FINDINGS = "findings", "Chosen findings"
    PATCH_IDENTIFIERS = "patch_identifiers", "Chosen patch identifiers"
    CRITICAL_FOR_OS = "critical_for_os", "All approved critical patches for an OS family"


class WaveState(models.TextChoices):
    """pending → awaiting → prechecks → deploying → deployed → verifying → soaking → passed,
    or halted; or skipped when the ring holds no device needing the rollout's patches (a
    skipped wave tested nothing: it is never passed)."""

    PENDING = "pending", "Pending"
    AWAITING = "awaiting", "Awaiting approval / window"
    PRECHECKS = "prechecks", "Pre-checks"
    DEPLOYING = "deploying", "Deploying"
    DEPLOYED = "deployed", "Deployed"
    VERIFYING = "verifying", "Verifying"
    SOAKING = "soaking", "Soaking"
    PASSED = "passed", "Passed"
    HALTED = "halted", "Halted"
    SKIPPED = "skipped", "Skipped"

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
    "skipped": "gray",
}

# Waves that are over for their rollout: the next ring may go.
WAVE_DONE_STATES = ("passed", "skipped")


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
    PENDING = "pending", "In progress"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partially succeeded"
    FAILED = "failed", "Failed"

    @property
    def color(self) -> str:
        return {"pending": "blue", "succeeded": "green", "partial": "orange", "failed": "red"}[
            self.value
        ]


class RollbackTargetStatus(models.TextChoices):
    """One asset of a rollback: queued to its agent or the RMM, then rolled back or failed."""

    PENDING = "pending", "Queued"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed"


class PolicyRunOutcome(models.TextChoices):
    """What one occurrence of a patch policy did."""

    CREATED = "created", "Rollout created"
    NOTHING = "nothing", "Nothing to patch"
    FAILED = "failed", "Failed"

    @property
    def color(self) -> str:
        return {"created": "green", "nothing": "gray", "failed": "red"}[self.value]
