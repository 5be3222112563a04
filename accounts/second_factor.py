"""Whether a session has passed its second factor, and who needs one.

``mark_verified`` is called by whatever checked the factor (a TOTP code, a recovery code, a
passkey assertion); the session then carries the method and the time.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.choices import MembershipRole
from tenants.models import Client, Membership

__all__ = ["mark_verified", "is_verified", "needs_second_factor", "has_factor"]

SESSION_METHOD = "second_factor_method"
SESSION_AT = "second_factor_at"


def mark_verified(request: HttpRequest, *, method: str) -> None:
    request.session[SESSION_METHOD] = method
    request.session[SESSION_AT] = timezone.now().isoformat()


def is_verified(request: HttpRequest) -> bool:
    return bool(getattr(request, "session", {}).get(SESSION_METHOD))


def needs_second_factor(user: Any, client: Client | None = None) -> bool:
    """MSP staff and client owners must use a second factor."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "staff_role", "") or getattr(user, "is_superuser", False):
        return True
    owners = Membership.objects.filter(user=user, role=MembershipRole.CLIENT_OWNER)
    if client is not None:
        owners = owners.filter(client=client)
    return owners.exists()


def has_factor(user: Any) -> bool:
    if user is None or getattr(user, "pk", None) is None:
        return False
    return (
        user.passkeys.exists() or TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()
    )
