from django.db import models

__all__ = [
    "ExceptionKind",
    "ExceptionState",
    "ControlKind",
    "SignatureDecision",
    "SignatureMethod",
    "OPEN_FOR_CHANGE",
    "ENDED_STATES",
    "REMINDER_DAYS",
]


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

    @property
    def color(self) -> str:
        return {
            "draft": "gray",
            "pending_signoff": "orange",
            "active": "green",
            "expired": "red",
            "revoked": "gray",
            "rejected": "red",
        }[self.value]


class ControlKind(models.TextChoices):
    NETWORK_SEGMENTATION = "network_segmentation", "Network segmentation"
    RESTRICTED_ACCESS = "restricted_access", "Restricted access"
    EXTRA_MONITORING = "extra_monitoring", "Extra monitoring"
    OTHER = "other", "Other"


class SignatureDecision(models.TextChoices):
    SIGNED = "signed", "Signed"
    REJECTED = "rejected", "Rejected"


class SignatureMethod(models.TextChoices):
    """How the signer proved it was them, strongest first."""

    PASSKEY = "passkey", "Passkey (WebAuthn assertion over the text)"
    TOTP = "totp", "Authenticator app code (TOTP)"
    PASSWORD = "password", "Password only (recorded before second factors)"

    @property
    def short_label(self) -> str:
        return {"passkey": "passkey", "totp": "TOTP code", "password": "password only"}[self.value]

    @property
    def color(self) -> str:
        return {"passkey": "green", "totp": "orange", "password": "gray"}[self.value]


# Content (text, scope, controls, expiry) may change only before anyone has signed.
OPEN_FOR_CHANGE = (ExceptionState.DRAFT, ExceptionState.PENDING_SIGNOFF)
ENDED_STATES = (ExceptionState.EXPIRED, ExceptionState.REVOKED, ExceptionState.REJECTED)
# Reminders before the hard expiry, in days.
REMINDER_DAYS = (14, 7, 1)
