"""Who must give a second factor, whether this session has given it, and marking that it has.

The contract every way of verifying shares (TOTP codes and recovery codes today, passkeys later):
a view that has checked a factor calls ``mark_verified(request, method=…)``; the middleware
(``accounts.middleware``) lets a user who ``needs_second_factor`` reach pages only once
``is_verified(request)``. A session is verified for its whole life: signing in again (Django's
``login``) starts a new session, which must be verified again.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.choices import MembershipRole
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
