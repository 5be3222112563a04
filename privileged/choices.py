"""Choices of the privileged account register."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class AccountKind(models.TextChoices):
    PRIVILEGED = "privileged", "Privileged (named admin)"
    SHARED_ADMIN = "shared_admin", "Shared admin"
    SERVICE = "service", "Service account"
    BREAK_GLASS = "break_glass", "Break-glass"


# Kinds whose credential more than one person knows: a leaver who knew it means a rotation.
SHARED_KINDS = frozenset({AccountKind.SHARED_ADMIN, AccountKind.BREAK_GLASS})


class Holder(models.TextChoices):
    CLIENT = "client", "The client's own staff"
    MSP = "msp", "PatchOps (MSP) staff"


class MfaState(models.TextChoices):
    ENFORCED = "enforced", "MFA enforced"
    NOT_ENFORCED = "not_enforced", "MFA not enforced"
    NOT_POSSIBLE = "not_possible", "MFA not possible"


class IssueKind(models.TextChoices):
    ROTATION_OVERDUE = "rotation_overdue", "Rotation overdue"
    REVIEW_OVERDUE = "review_overdue", "Review overdue"


class IssueState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class ChecklistState(models.TextChoices):
    OPEN = "open", "In progress"
    COMPLETED = "completed", "Completed"


class ChecklistSource(models.TextChoices):
    REGISTER = "register", "Entered on the register"
    DEACTIVATION = "deactivation", "Client user deactivated"


class ItemAction(models.TextChoices):
    DISABLE_ACCOUNT = "disable_account", "Disable the account"
    ROTATE_CREDENTIAL = "rotate_credential", "Rotate the shared credential"
    REVOKE_TOKENS = "revoke_tokens", "Revoke tokens and keys"


@dataclass(frozen=True)
class KindDefaults:
    """Intervals a new account of a kind starts with (editable per account)."""

    rotation_days: int
    review_days: int
    rotate_after_use: bool


KIND_DEFAULTS: dict[str, KindDefaults] = {
    AccountKind.PRIVILEGED: KindDefaults(rotation_days=90, review_days=90, rotate_after_use=False),
    AccountKind.SHARED_ADMIN: KindDefaults(
        rotation_days=90, review_days=90, rotate_after_use=False
    ),
    AccountKind.SERVICE: KindDefaults(rotation_days=365, review_days=180, rotate_after_use=False),
    # Break-glass: rotated after every use (and yearly at the latest), reviewed quarterly.
    AccountKind.BREAK_GLASS: KindDefaults(rotation_days=365, review_days=90, rotate_after_use=True),
}
DEFAULT_GRACE_DAYS = 7
