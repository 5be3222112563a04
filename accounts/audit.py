"""Recording security events in the audit log (``accounts.models.AuditEvent``).

Every kind is named here once with its label, so the log's filter, its export and its pages
speak one vocabulary; recording an unknown kind is a programming error.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from tenants.models import ApiToken, Client, User

from .models import AuditEvent

KINDS: dict[str, str] = {
    # Signing in
    "login.succeeded": "Signed in",
    "login.failed": "Sign-in failed",
    "login.locked_out": "Locked out",
    "login.unlocked": "Lockout lifted",
    "logout": "Signed out",
    "sessions.ended": "Other sessions ended",
    # Passwords
    "password.changed": "Password changed",
    "password.reset_requested": "Password reset requested",
    "password.reset_completed": "Password reset",
    # Second factors
    "mfa.enrolled": "Second factor added",
    "mfa.removed": "Second factor removed",
    "mfa.failed": "Second factor refused",
    "mfa.recovery_code_used": "Recovery code used",
    "mfa.recovery_codes_generated": "Recovery codes generated",
    "mfa.requirement_changed": "Second-factor requirement changed",
    # People
    "invitation.sent": "Invitation sent",
    "invitation.accepted": "Invitation accepted",
    "invitation.revoked": "Invitation withdrawn",
    "membership.created": "Client user added",
    "membership.role_changed": "Client user's role changed",
    "membership.removed": "Client user removed",
    "user.created": "User created",
    "user.role_changed": "Staff role changed",
    "user.deactivated": "User deactivated",
    "user.reactivated": "User reactivated",
    "account_manager.assigned": "Account manager assigned to the client",
    "account_manager.unassigned": "Account manager unassigned from the client",
    # Tokens
    "token.created": "API token created",
    "token.revoked": "API token revoked",
    "token.auth_failed": "API token refused",
    # Webhook endpoints (data leaving the portal to a URL; their secrets sign it)
    "webhook.created": "Webhook endpoint added",
    "webhook.changed": "Webhook endpoint changed",
    "webhook.secret_rotated": "Webhook secret rotated",
    # Data leaving the portal
    "export.downloaded": "Export downloaded",
    "report.downloaded": "Report downloaded",
    "bundle.downloaded": "Evidence bundle downloaded",
}


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: the peer, or with ``TRUSTED_PROXY_COUNT`` proxies in front, the
    address the outermost trusted proxy saw (X-Forwarded-For is written by the client first,
    so only the entries the trusted proxies appended are believed)."""
    if request is None:
        return None
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [
            p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def _label(actor: Any, fallback: str) -> str:
    if actor is None:
        return fallback
    if isinstance(actor, ApiToken):
        return f"token:{actor.name}"
    email = getattr(actor, "email", None)
    return email or str(actor)


def record(
    kind: str,
    *,
    actor: Any = None,
    actor_label: str = "",
    client: Client | None = None,
    request: HttpRequest | None = None,
    target: str = "",
    **detail: Any,
) -> AuditEvent:
    """Add one row to the audit log.

    ``actor`` is the signed-in user or the token that acted (None for the system, or for an
    anonymous attempt, whose ``actor_label`` names the address tried). ``client`` is the client
    the event concerns, when one does (its owners see it). ``detail`` holds the rest, as JSON.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown audit event kind {kind!r}.")
    user = actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "email") else None
    if user is not None and getattr(user, "pk", None) is None:
        user = None
    if client is not None and client.is_public:
        client = None
    agent = request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""
    return AuditEvent.objects.create(
        occurred_at=timezone.now(),
        kind=kind,
        actor=user,
        actor_label=(actor_label or _label(actor, "system"))[:254],
        client=client,
        ip_address=client_ip(request),
        user_agent=agent,
        target=target[:254],
        detail=detail,
    )


def client_of_user(user: Any) -> Client | None:
    """The client a client user's own events (sign-ins, sign-outs) concern: their client when
    they belong to exactly one; None for MSP staff and people of several clients (those rows
    are on the MSP-wide log only)."""
    if user is None or getattr(user, "pk", None) is None or getattr(user, "staff_role", ""):
        return None
    clients = list(Client.objects.filter(memberships__user=user).distinct()[:2])
    return clients[0] if len(clients) == 1 else None


def client_of_address(address: str) -> Client | None:
    """``client_of_user`` for the account an address tried at sign-in names, if any."""
    if not address:
        return None
    return client_of_user(User.objects.filter(email__iexact=address.strip()).first())


def label_of(kind: str) -> str:
    return KINDS.get(kind, kind)
