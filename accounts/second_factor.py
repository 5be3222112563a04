"""Who must give a second factor, whether this session has given it, and marking that it has.

The contract every way of verifying shares (TOTP codes and recovery codes today, passkeys later):
a view that has checked a factor calls ``mark_verified(request, method=…)``; the middleware
(``accounts.middleware``) lets a user who ``needs_second_factor`` reach pages only once
``is_verified(request)``. A session is verified for its whole life: signing in again (Django's
``login``) starts a new session, which must be verified again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.choices import MembershipRole, StaffRole
from tenants.models import Client, Membership, User

from .models import Passkey

__all__ = [
    "SESSION_METHOD",
    "SESSION_AT",
    "mark_verified",
    "clear_verified",
    "is_verified",
    "needs_second_factor",
    "must_verify",
    "has_factor",
    "FactorCoverage",
    "accounts_with_access",
    "factor_coverage",
]

SESSION_METHOD = "second_factor_method"
SESSION_AT = "second_factor_at"


def mark_verified(request: HttpRequest, *, method: str) -> None:
    """Record in the session that its user gave a second factor now, by ``method``
    (``totp``, ``recovery_code``, ``passkey``…)."""
    if not method:
        raise ValueError("A second factor is verified by a named method.")
    request.session[SESSION_METHOD] = method
    request.session[SESSION_AT] = timezone.now().isoformat()


def clear_verified(request: HttpRequest) -> None:
    """Forget that this session gave a second factor (its factor was removed)."""
    request.session.pop(SESSION_METHOD, None)
    request.session.pop(SESSION_AT, None)


def is_verified(request: HttpRequest) -> bool:
    """True when the signed-in user of this session gave a second factor in it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return bool(request.session.get(SESSION_METHOD))


def needs_second_factor(user: Any, client: Client | None = None) -> bool:
    """Must ``user`` sign in with a second factor?

    MSP staff (every staff role) and superusers always; client owners always; client viewers
    when a client they belong to requires it (``Client.require_mfa_for_viewers``). Without
    ``client`` the answer is for the account as a whole (what signing in asks); with one, for
    that client only: staff, that client's owners, and its viewers when it requires it.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.staff_role:
        return True
    memberships = Membership.objects.filter(user=user)
    if client is not None:
        memberships = memberships.filter(client=client)
    return memberships.filter(
        Q(role=MembershipRole.CLIENT_OWNER)
        | Q(role=MembershipRole.CLIENT_VIEWER, client__require_mfa_for_viewers=True)
    ).exists()


def must_verify(user: Any) -> bool:
    """Must this user give a second factor to use a session? When it needs one, and also when
    it has one it was not obliged to add (a factor one has is always asked for)."""
    return needs_second_factor(user) or has_factor(user)


def has_factor(user: Any) -> bool:
    """Does ``user`` have a second factor to give: a passkey or a confirmed TOTP device?"""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    # One query on the middleware's path: either kind of factor answers it.
    return (
        User.objects.filter(pk=user.pk)
        .filter(
            Exists(Passkey.objects.filter(user=OuterRef("pk")))
            | Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
        )
        .exists()
    )


# --- coverage: who of those who may sign in to a client has a factor ----------------------------


@dataclass(frozen=True)
class FactorCoverage:
    """How many of a group of accounts have a second factor, and which do not."""

    total: int
    covered: int
    without: list[User] = field(default_factory=list)

    @property
    def uncovered(self) -> int:
        return self.total - self.covered

    @property
    def percent(self) -> int | None:
        """Whole per cent covered, rounded down (100 only when every account is); None for
        an empty group."""
        return self.covered * 100 // self.total if self.total else None


def _with_factor() -> Exists:
    return Exists(Passkey.objects.filter(user=OuterRef("pk"))) | Exists(
        TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    )


def accounts_with_access(client: Client) -> QuerySet[User]:
    """The active accounts that may sign in to ``client``: MSP admins and engineers (they see
    every client), superusers, the client's account managers and its own people (members)."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(staff_role__in=[StaffRole.MSP_ADMIN, StaffRole.ENGINEER])
            | Q(staff_role=StaffRole.ACCOUNT_MANAGER, managed_clients=client)
            | Q(staff_role="", memberships__client=client)
        )
        .distinct()
    )


def factor_coverage(client: Client) -> dict[str, FactorCoverage]:
    """Second-factor coverage of the accounts with access to ``client``, from the factors
    people actually enrolled (confirmed authenticators and passkeys): ``"staff"`` the MSP's
    staff, ``"people"`` the client's own people. One query."""
    rows = list(
        accounts_with_access(client)
        .annotate(enrolled=_with_factor())
        .order_by("email")
        .only("pk", "uuid", "email", "full_name", "staff_role", "is_superuser")
    )
    out: dict[str, FactorCoverage] = {}
    for group, members in (
        ("staff", [u for u in rows if u.staff_role or u.is_superuser]),
        ("people", [u for u in rows if not (u.staff_role or u.is_superuser)]),
    ):
        out[group] = FactorCoverage(
            total=len(members),
            covered=sum(1 for u in members if u.enrolled),
            without=[u for u in members if not u.enrolled],
        )
    return out
