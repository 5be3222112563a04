"""A client's people: invitations, membership changes and deactivation.

Client users join only by invitation to their e-mail address: a link with a random token (only
its SHA-256 is stored) that works once and until ``INVITATION_MAX_AGE_HOURS``; the invitee sets
their own password. Every change here is, in one transaction, an event in the client's evidence
chain and a row of the audit log; after it commits, the client's other owners are told by mail.
Nobody sets or resets a client user's password for them: there is no function here that would.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from smtplib import SMTPException
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_tenants.utils import tenant_context

from common.emails import send_templated
from evidence.services import record_event
from tenants.choices import MembershipRole, StaffRole
from tenants.models import ApiToken, Client, Membership, User

from . import audit
from .models import Invitation
from .sessions import end_sessions

__all__ = [
    "InvitationInvalid",
    "Sent",
    "hash_token",
    "members_of",
    "all_users",
    "open_invitations_of",
    "find_invitation",
    "invite",
    "accept_invitation",
    "withdraw_invitation",
    "change_role",
    "remove_member",
    "deactivate_user",
    "may_deactivate",
    "open_staff_invitations",
    "invite_staff",
    "withdraw_staff_invitation",
    "change_staff_role",
    "set_managed_clients",
]

log = logging.getLogger(__name__)

ROLE_LABELS = dict(MembershipRole.choices)
STAFF_ROLE_LABELS = dict(StaffRole.choices)


class InvitationInvalid(Exception):
    """The link is unknown, used, withdrawn or expired (the message says which, to its holder)."""


@dataclass
class Sent:
    """What a change produced, and whether its mails went out."""

    obj: Any
    mail_failed: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.PORTAL_URL.rstrip("/") + path


def people_path(client: Client) -> str:
    return f"/clients/{client.slug}/people/"


# --- read side ----------------------------------------------------------------------------------


def members_of(client: Client) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(client=client)
        .select_related("user")
        .order_by("role", "user__email")
    )


def all_users() -> QuerySet[User]:
    """Every account, active first, with its clients (for the MSP admins' users page)."""
    return User.objects.prefetch_related("memberships__client", "managed_clients").order_by(
        "-is_active", "email"
    )


def open_invitations_of(client: Client) -> QuerySet[Invitation]:
    """Invitations neither accepted nor withdrawn (expired ones included: they show as such)."""
    return (
        Invitation.objects.filter(client=client, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("email")
    )


def find_invitation(token: str) -> Invitation:
    """The invitation a link's token opens, or InvitationInvalid saying why it does not."""
    invitation = (
        Invitation.objects.select_related("client").filter(token_hash=hash_token(token)).first()
        if token
        else None
    )
    if invitation is None:
        raise InvitationInvalid("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise InvitationInvalid("This invitation has already been used.")
    if invitation.revoked_at is not None:
        raise InvitationInvalid("This invitation was withdrawn.")
    if invitation.is_expired():
        raise InvitationInvalid(
            "This invitation has expired. Ask whoever invited you to send a new one."
        )
    return invitation


# --- helpers --------------------------------------------------------------------------------------


def _role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def _other_owners(client: Client, *, exclude: list[Any]) -> list[str]:
    skip = {getattr(u, "pk", None) for u in exclude if u is not None}
    return [
        m.user.email
        for m in members_of(client).filter(role=MembershipRole.CLIENT_OWNER, user__is_active=True)
        if m.user.pk not in skip
    ]


def _mail(*, template: str, to: list[str], context: dict[str, Any]) -> bool:
    """Send one mail; True when it failed (the change it tells of stands)."""
    try:
        send_templated(template=template, to=to, context=context)
    except (SMTPException, OSError):
        log.exception("could not send %s to %s", template, to)
        return True
    return False


def _notify_owners(
    *,
    client: Client,
    actor: Any,
    exclude: list[Any],
    what: str,
    request: HttpRequest | None,
) -> bool:
    return _mail(
        template="accounts/emails/people_changed",
        to=_other_owners(client, exclude=[actor, *exclude]),
        context={
            "client": client,
            "actor": audit._label(actor, "the MSP (command line)"),
            "what": what,
            "people_url": absolute_url(people_path(client), request),
        },
    )


def _evidence(client: Client, **event: Any) -> None:
    with tenant_context(client):
        record_event(**event)


def _check_role(role: str) -> None:
    if role not in MembershipRole.values:
        raise ValidationError({"role": f"Role must be one of: {', '.join(MembershipRole.values)}."})


def _membership(client: Client, user_uuid: Any) -> Membership:
    membership = (
        Membership.objects.select_related("user")
        .filter(client=client, user__uuid=user_uuid)
        .first()
    )
    if membership is None:
        raise ValidationError("This person is not a member of this client.")
    return membership


def _only_owner(membership: Membership) -> bool:
    return (
        membership.role == MembershipRole.CLIENT_OWNER
        and not Membership.objects.filter(
            client=membership.client, role=MembershipRole.CLIENT_OWNER, user__is_active=True
        )
        .exclude(pk=membership.pk)
        .exists()
    )


# --- invitations ----------------------------------------------------------------------------------


def invite(
    *,
    client: Client,
    email: str,
    role: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> Sent:
    """Invite ``email`` to ``client`` as ``role`` and mail the link (the token is in that mail
    only). An earlier open invitation of the address that has expired is withdrawn first."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": "Enter a valid e-mail address."}) from exc
    _check_role(role)
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if existing.staff_role or existing.is_superuser:
            raise ValidationError({"email": "MSP staff do not hold client memberships."})
        if not existing.is_active:
            raise ValidationError({"email": "That account is deactivated."})
        if Membership.objects.filter(user=existing, client=client).exists():
            raise ValidationError({"email": f"{email} is already a member of {client.name}."})
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.INVITATION_MAX_AGE_HOURS)
    with transaction.atomic():
        stale = Invitation.objects.select_for_update().filter(
            client=client, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        )
        for old in stale:
            if not old.is_expired(at=now):
                raise ValidationError(
                    {
                        "email": f"{email} already has an open invitation (until "
                        f"{timezone.localtime(old.expires_at, client.tz):%Y-%m-%d %H:%M}); "
                        "withdraw it to send a new one."
                    }
                )
            Invitation.objects.filter(pk=old.pk).update(revoked_at=now)
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    client=client,
                    email=email,
                    role=role,
                    token_hash=hash_token(token),
                    invited_by=actor if isinstance(actor, User) else None,
                    created_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError as exc:
            raise ValidationError({"email": f"{email} already has an open invitation."}) from exc
        _evidence(
            client,
            kind="person.invited",
            subject_type="invitation",
            subject_id=invitation.uuid,
            actor=actor,
            payload={"email": email, "role": role, "expires_at": expires_at.isoformat()},
        )
        audit.record(
            "invitation.sent",
            actor=actor,
            client=client,
            request=request,
            target=email,
            role=role,
            invitation=str(invitation.uuid),
            expires_at=expires_at.isoformat(),
        )
    failed = _mail(
        template="accounts/emails/invitation",
        to=[email],
        context={
            "client": client,
            "role": _role_label(role),
            "inviter": audit._label(actor, "your MSP"),
            "accept_url": absolute_url(f"/accounts/invitations/{token}/", request),
            "expires_at": expires_at,
            "existing_account": existing is not None,
        },
    )
    failed |= _notify_owners(
        client=client,
        actor=actor,
        exclude=[],
        what=f"{email} was invited as {_role_label(role)}.",
        request=request,
    )
    return Sent(invitation, mail_failed=failed)


def accept_invitation(
    *,
    token: str,
    user: Any = None,
    password: str | None = None,
    full_name: str = "",
    request: HttpRequest | None = None,
) -> User:
    """Accept the invitation ``token`` opens: as the signed-in ``user`` whose address it names
    (an existing account), or as a new account with the invitee's own ``password`` (already
    checked by the password validators). Works once; InvitationInvalid otherwise."""
    invitation = find_invitation(token)
    if invitation.is_staff_invitation:
        return _accept_staff_invitation(
            invitation, password=password, full_name=full_name, request=request
        )
    client = invitation.client
    existing = User.objects.filter(email__iexact=invitation.email).first()
    with transaction.atomic():
        now = timezone.now()
        claimed = Invitation.objects.filter(
            pk=invitation.pk,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(accepted_at=now)
        if not claimed:
            raise InvitationInvalid("This invitation has already been used.")
        new_account = existing is None
        if existing is not None:
            if getattr(user, "pk", None) != existing.pk:
                raise PermissionDenied(f"Sign in as {existing.email} to accept this invitation.")
            if existing.staff_role or not existing.is_active:
                raise InvitationInvalid("This account cannot join a client.")
            member = existing
        else:
            if not password:
                raise ValidationError({"password1": "Choose a password."})
            member = User.objects.create_user(
                email=invitation.email, password=password, full_name=full_name.strip()[:150]
            )
        Invitation.objects.filter(pk=invitation.pk).update(accepted_by=member)
        Membership.objects.create(user=member, client=client, role=invitation.role)
        _evidence(
            client,
            kind="person.joined",
            subject_type="user",
            subject_id=member.uuid,
            actor=member,
            payload={
                "email": member.email,
                "role": invitation.role,
                "invitation": str(invitation.uuid),
                "new_account": new_account,
            },
        )
        audit.record(
            "invitation.accepted",
            actor=member,
            client=client,
            request=request,
            target=member.email,
            invitation=str(invitation.uuid),
        )
        if new_account:
            audit.record("user.created", actor=member, request=request, target=member.email)
        audit.record(
            "membership.created",
            actor=member,
            client=client,
            request=request,
            target=member.email,
            role=invitation.role,
            invited_by=invitation.invited_by.email if invitation.invited_by else "",
        )
    _notify_owners(
        client=client,
        actor=member,
        exclude=[],
        what=f"{member.email} accepted the invitation and joined as "
        f"{_role_label(invitation.role)}.",
        request=request,
    )
    return member


def withdraw_invitation(
    *, client: Client, invitation_uuid: Any, actor: Any, request: HttpRequest | None = None
) -> Sent:
    with transaction.atomic():
        invitation = Invitation.objects.filter(
            client__isnull=False,
            client=client,
            uuid=invitation_uuid,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).first()
        if invitation is None:
            raise ValidationError("No open invitation of this client with that id.")
        if not Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        ):
            raise ValidationError("This invitation was withdrawn already.")
        _evidence(
            client,
            kind="person.invitation_withdrawn",
            subject_type="invitation",
            subject_id=invitation.uuid,
            actor=actor,
            payload={"email": invitation.email, "role": invitation.role},
        )
        audit.record(
            "invitation.revoked",
            actor=actor,
            client=client,
            request=request,
            target=invitation.email,
            invitation=str(invitation.uuid),
        )
    failed = _notify_owners(
        client=client,
        actor=actor,
        exclude=[],
        what=f"The invitation of {invitation.email} ({_role_label(invitation.role)}) "
        "was withdrawn.",
        request=request,
    )
    return Sent(invitation, mail_failed=failed)


# --- members --------------------------------------------------------------------------------------


def change_role(
    *,
    client: Client,
    user_uuid: Any,
    role: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> Sent:
    _check_role(role)
    with transaction.atomic():
        membership = _membership(client, user_uuid)
        old = membership.role
        if old == role:
            raise ValidationError(
                {"role": f"{membership.user.email} is already {_role_label(role)}."}
            )
        if _only_owner(membership):
            raise ValidationError(
                f"{membership.user.email} is the only owner of {client.name}: "
                "invite another owner first."
            )
        if not Membership.objects.filter(pk=membership.pk, role=old).update(role=role):
            raise ValidationError("The role changed meanwhile; reload the page.")
        _evidence(
            client,
            kind="person.role_changed",
            subject_type="user",
            subject_id=membership.user.uuid,
            actor=actor,
            payload={"email": membership.user.email, "old_role": old, "new_role": role},
        )
        audit.record(
            "membership.role_changed",
            actor=actor,
            client=client,
            request=request,
            target=membership.user.email,
            old_role=old,
            new_role=role,
        )
    failed = _notify_owners(
        client=client,
        actor=actor,
        exclude=[],
        what=f"{membership.user.email} is now {_role_label(role)} (was {_role_label(old)}).",
        request=request,
    )
    return Sent(membership, mail_failed=failed)


def remove_member(
    *, client: Client, user_uuid: Any, actor: Any, request: HttpRequest | None = None
) -> Sent:
    with transaction.atomic():
        membership = _membership(client, user_uuid)
        if _only_owner(membership):
            raise ValidationError(
                f"{membership.user.email} is the only owner of {client.name}: "
                "invite another owner first."
            )
        if not Membership.objects.filter(pk=membership.pk).delete()[0]:
            raise ValidationError("This person was removed meanwhile.")
        _evidence(
            client,
            kind="person.removed",
            subject_type="user",
            subject_id=membership.user.uuid,
            actor=actor,
            payload={"email": membership.user.email, "role": membership.role},
        )
        audit.record(
            "membership.removed",
            actor=actor,
            client=client,
            request=request,
            target=membership.user.email,
            role=membership.role,
        )
    failed = _notify_owners(
        client=client,
        actor=actor,
        exclude=[membership.user],
        what=f"{membership.user.email} ({_role_label(membership.role)}) was removed.",
        request=request,
    )
    return Sent(membership, mail_failed=failed)


# --- deactivation ---------------------------------------------------------------------------------


def may_deactivate(actor: Any) -> bool:
    """MSP admins deactivate accounts in the app (and anyone running the command)."""
    return bool(
        getattr(actor, "is_authenticated", False)
        and actor.is_active
        and actor.staff_role == StaffRole.MSP_ADMIN
    )


def deactivate_user(
    *,
    user: User,
    actor: Any,
    request: HttpRequest | None = None,
    actor_label: str = "",
) -> Sent:
    """Deactivate ``user`` at once: every live session ends and every API token they created
    is revoked; recorded in the audit log and in the evidence chain of each client they
    belong to, whose other owners are told."""
    if getattr(actor, "pk", None) is not None and actor.pk == user.pk:
        raise ValidationError("You cannot deactivate your own account.")
    with transaction.atomic():
        if not User.objects.filter(pk=user.pk, is_active=True).update(is_active=False):
            raise ValidationError(f"{user.email} is deactivated already.")
        user.is_active = False
        ended = end_sessions(user=user)
        now = timezone.now()
        tokens = list(ApiToken.objects.filter(created_by=user, revoked_at__isnull=True))
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=now)
        for token in tokens:
            audit.record(
                "token.revoked",
                actor=actor,
                actor_label=actor_label,
                client=token.client,
                request=request,
                target=f"token:{token.name}",
                reason="owner deactivated",
                owner=user.email,
            )
        memberships = list(Membership.objects.filter(user=user).select_related("client"))
        detail = {"sessions_ended": ended, "tokens_revoked": len(tokens)}
        for membership in memberships:
            _evidence(
                membership.client,
                kind="person.deactivated",
                subject_type="user",
                subject_id=user.uuid,
                actor=actor_label or actor,
                payload={"email": user.email, "role": membership.role, **detail},
            )
            audit.record(
                "user.deactivated",
                actor=actor,
                actor_label=actor_label,
                client=membership.client,
                request=request,
                target=user.email,
                role=membership.role,
                **detail,
            )
        if not memberships:
            audit.record(
                "user.deactivated",
                actor=actor,
                actor_label=actor_label,
                request=request,
                target=user.email,
                staff_role=user.staff_role,
                **detail,
            )
    failed = False
    for membership in memberships:
        failed |= _notify_owners(
            client=membership.client,
            actor=actor,
            exclude=[user],
            what=f"{user.email} ({_role_label(membership.role)}) was deactivated: "
            "their sessions ended and their API tokens were revoked.",
            request=request,
        )
    return Sent(user, mail_failed=failed, detail=detail)


# --- the MSP's staff ------------------------------------------------------------------------------
#
# MSP admins bring staff in the same way clients' people come: an invitation to the person's
# own address, whose link works once and lets them choose their own password (and then add
# their second factor, as staff always sign in with one). Staff roles and the clients an
# account manager looks after change on the Users page. Each step is an audit-log row; an
# account manager's clients also in each client's evidence chain.


def _staff_role_label(role: str) -> str:
    return STAFF_ROLE_LABELS.get(role, role)


def _check_staff_role(role: str) -> None:
    if role not in StaffRole.values:
        raise ValidationError({"role": f"Role must be one of: {', '.join(StaffRole.values)}."})


def _require_admin(actor: Any) -> None:
    if not may_deactivate(actor):
        raise PermissionDenied("Only MSP admins manage the MSP's staff.")


def open_staff_invitations() -> QuerySet[Invitation]:
    """Staff invitations neither accepted nor withdrawn (expired ones included)."""
    return (
        Invitation.objects.filter(
            client__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("email")
    )


def invite_staff(*, email: str, role: str, actor: Any, request: HttpRequest | None = None) -> Sent:
    """Invite ``email`` to the MSP's staff as ``role`` and mail the link (the token is in that
    mail only). An address that already has an account cannot be invited to the staff."""
    _require_admin(actor)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": "Enter a valid e-mail address."}) from exc
    _check_staff_role(role)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": f"{email} already has an account: change its role on this page."}
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.INVITATION_MAX_AGE_HOURS)
    with transaction.atomic():
        for old in Invitation.objects.select_for_update().filter(
            client__isnull=True, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ):
            if not old.is_expired(at=now):
                raise ValidationError(
                    {
                        "email": f"{email} already has an open invitation (until "
                        f"{old.expires_at:%Y-%m-%d %H:%M} UTC); withdraw it to send a new one."
                    }
                )
            Invitation.objects.filter(pk=old.pk).update(revoked_at=now)
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    client=None,
                    email=email,
                    role=role,
                    token_hash=hash_token(token),
                    invited_by=actor,
                    created_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError as exc:
            raise ValidationError({"email": f"{email} already has an open invitation."}) from exc
        audit.record(
            "invitation.sent",
            actor=actor,
            request=request,
            target=email,
            staff_role=role,
            invitation=str(invitation.uuid),
            expires_at=expires_at.isoformat(),
        )
    failed = _mail(
        template="accounts/emails/staff_invitation",
        to=[email],
        context={
            "role": _staff_role_label(role),
            "inviter": audit._label(actor, "your MSP"),
            "accept_url": absolute_url(f"/accounts/invitations/{token}/", request),
            "expires_at": expires_at,
        },
    )
    return Sent(invitation, mail_failed=failed)


def _accept_staff_invitation(
    invitation: Invitation,
    *,
    password: str | None,
    full_name: str,
    request: HttpRequest | None,
) -> User:
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise InvitationInvalid("This address already has an account: ask an MSP admin.")
    if not password:
        raise ValidationError({"password1": "Choose a password."})
    with transaction.atomic():
        now = timezone.now()
        claimed = Invitation.objects.filter(
            pk=invitation.pk,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(accepted_at=now)
        if not claimed:
            raise InvitationInvalid("This invitation has already been used.")
        member = User.objects.create_user(
            email=invitation.email,
            password=password,
            full_name=full_name.strip()[:150],
            staff_role=invitation.role,
        )
        Invitation.objects.filter(pk=invitation.pk).update(accepted_by=member)
        audit.record(
            "invitation.accepted",
            actor=member,
            request=request,
            target=member.email,
            invitation=str(invitation.uuid),
        )
        audit.record(
            "user.created",
            actor=member,
            request=request,
            target=member.email,
            staff_role=invitation.role,
            invited_by=invitation.invited_by.email if invitation.invited_by else "",
        )
    return member


def withdraw_staff_invitation(
    *, invitation_uuid: Any, actor: Any, request: HttpRequest | None = None
) -> Sent:
    _require_admin(actor)
    with transaction.atomic():
        invitation = Invitation.objects.filter(
            client__isnull=True,
            uuid=invitation_uuid,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).first()
        if invitation is None or not Invitation.objects.filter(
            pk=invitation.pk, revoked_at__isnull=True
        ).update(revoked_at=timezone.now()):
            raise ValidationError("No open staff invitation with that id.")
        audit.record(
            "invitation.revoked",
            actor=actor,
            request=request,
            target=invitation.email,
            invitation=str(invitation.uuid),
            staff_role=invitation.role,
        )
    return Sent(invitation)


def _staff_member(user_uuid: Any) -> User:
    user = User.objects.filter(uuid=user_uuid).first() if user_uuid else None
    if user is None or not user.staff_role:
        raise ValidationError("No member of the MSP's staff with that id.")
    if not user.is_active:
        raise ValidationError(f"{user.email} is deactivated.")
    return user


def change_staff_role(
    *, user_uuid: Any, role: str, actor: Any, request: HttpRequest | None = None
) -> Sent:
    """Give a member of staff another staff role. Nobody changes their own role (so the MSP
    admin acting stays one). An account manager who stops being one keeps no clients."""
    _require_admin(actor)
    _check_staff_role(role)
    with transaction.atomic():
        user = _staff_member(user_uuid)
        if user.pk == actor.pk:
            raise ValidationError("You cannot change your own role.")
        old = user.staff_role
        if old == role:
            raise ValidationError({"role": f"{user.email} is already {_staff_role_label(role)}."})
        user.staff_role = role
        user.save(update_fields=["staff_role", "is_staff"])
        unassigned: list[str] = []
        if old == StaffRole.ACCOUNT_MANAGER:
            unassigned = _unassign(user, list(user.managed_clients.all()), actor, request)
        audit.record(
            "user.role_changed",
            actor=actor,
            request=request,
            target=user.email,
            old_role=old,
            new_role=role,
            clients_unassigned=unassigned,
        )
    return Sent(user, detail={"old_role": old, "clients_unassigned": unassigned})


def _record_managed(
    user: User, clients: list[Client], actor: Any, request: Any, *, assigned: bool
) -> list[str]:
    """Add ``user`` to (or remove them from) each client's account managers: an evidence event
    in that client's chain and an audit row each. Returns the clients' slugs."""
    verb = "assigned" if assigned else "unassigned"
    for client in clients:
        if assigned:
            client.account_managers.add(user)
        else:
            client.account_managers.remove(user)
        _evidence(
            client,
            kind=f"person.account_manager_{verb}",
            subject_type="user",
            subject_id=user.uuid,
            actor=actor,
            payload={"email": user.email},
        )
        audit.record(
            f"account_manager.{verb}",
            actor=actor,
            client=client,
            request=request,
            target=user.email,
        )
    return [c.slug for c in clients]


def _unassign(user: User, clients: list[Client], actor: Any, request: Any) -> list[str]:
    return _record_managed(user, clients, actor, request, assigned=False)


def set_managed_clients(
    *, user_uuid: Any, clients: list[Client], actor: Any, request: HttpRequest | None = None
) -> Sent:
    """Make ``clients`` exactly the clients an account manager looks after (and so sees)."""
    _require_admin(actor)
    with transaction.atomic():
        user = _staff_member(user_uuid)
        if user.staff_role != StaffRole.ACCOUNT_MANAGER:
            raise ValidationError(
                f"{user.email} is {_staff_role_label(user.staff_role)}: only account managers "
                "are assigned clients (admins and engineers see every client)."
            )
        current = {c.pk: c for c in user.managed_clients.all()}
        wanted = {c.pk: c for c in clients}
        added = [c for pk, c in wanted.items() if pk not in current]
        removed = [c for pk, c in current.items() if pk not in wanted]
        _record_managed(user, added, actor, request, assigned=True)
        _unassign(user, removed, actor, request)
    return Sent(
        user,
        detail={
            "added": sorted(c.slug for c in added),
            "removed": sorted(c.slug for c in removed),
        },
    )
