"""Write side of the exception register: request, sign, reject, revoke, revise, expire, remind.

Every state change is a conditional update (so two concurrent decisions cannot both win) and
appends an evidence event in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import audit
from common.emails import send_templated
from evidence.services import actor_label, record_event
from findings.choices import FindingState
from findings.models import Finding
from inventory.models import Asset
from tenants.choices import MembershipRole
from tenants.models import Client, Membership, User

from .choices import (
    OPEN_FOR_CHANGE,
    REMINDER_DAYS,
    ControlKind,
    ExceptionKind,
    ExceptionState,
    SignatureDecision,
    SignatureMethod,
)
from .models import CompensatingControl, ExceptionReminder, RiskException, Signature
from .selectors import covered_findings_at
from .signing import FactorProof, FactorRefused, SigningFactor, verify_factor

__all__ = [
    "ControlInput",
    "ExceptionInput",
    "validate_exception_input",
    "request_exception",
    "update_exception",
    "submit_exception",
    "revise_exception",
    "sign_exception",
    "reject_exception",
    "revoke_exception",
    "expire_due_exceptions",
    "send_due_reminders",
    "open_duplicate",
]

SUBJECT = "exception"
# Findings an active exception moves to ``excepted`` (deployed ones await verification).
EXCEPTABLE_STATES = (FindingState.OPEN, FindingState.SCHEDULED, FindingState.FAILED)


@dataclass(frozen=True)
class ControlInput:
    kind: str
    description: str


@dataclass(frozen=True)
class ExceptionInput:
    """What an engineer (or a PSA integration) asks for."""

    kind: str
    reason: str
    ticket_reference: str
    expires_at: datetime | None
    approver: User | None
    assets: Sequence[Asset] = ()
    findings: Sequence[Finding] = ()
    controls: Sequence[ControlInput] = ()


# One answer for every approver who is not an active owner of this client, whether the address
# is unknown, another client's, staff's or a viewer's: the field tells nothing about who exists.
APPROVER_NOT_OWNER = "The approver must be an owner of this client."


def client_owners(*, client: Client) -> QuerySet[User]:
    """Active owners of ``client``: the only people an exception may name as approver."""
    return User.objects.filter(
        is_active=True, memberships__client=client, memberships__role=MembershipRole.CLIENT_OWNER
    ).distinct()


def owner_by_email(*, client: Client, email: str) -> User | None:
    """The active owner of ``client`` with this address, else None (whoever else has it)."""
    return client_owners(client=client).filter(email__iexact=email.strip()).first()


def is_client_owner(*, user: User | None, client: Client) -> bool:
    return (
        user is not None
        and user.is_active
        and Membership.objects.filter(
            client=client, user=user, role=MembershipRole.CLIENT_OWNER
        ).exists()
    )


def validate_exception_input(
    *, client: Client, data: ExceptionInput, now: datetime | None = None
) -> None:
    """Raise one ValidationError naming every field that is wrong; write nothing."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data.kind not in ExceptionKind.values:
        err("kind", f"Choose one of: {', '.join(ExceptionKind.values)}.")
    if not (data.reason or "").strip():
        err("reason", "Explain why the patch cannot be applied.")
    if not (data.ticket_reference or "").strip():
        err("ticket_reference", "A PSA ticket reference is required.")
    elif len(data.ticket_reference.strip()) > 100:
        err("ticket_reference", "At most 100 characters.")
    max_days = client.max_exception_days or 90
    if data.expires_at is None:
        err("expires_at", "Every exception needs a hard expiry.")
    elif timezone.is_naive(data.expires_at):
        err("expires_at", "Give the expiry with a time zone.")
    elif data.expires_at <= now:
        err("expires_at", "The expiry must lie in the future.")
    elif data.expires_at > now + timedelta(days=max_days):
        err(
            "expires_at",
            f"The expiry may be at most {max_days} days away "
            f"(no later than {(now + timedelta(days=max_days)):%Y-%m-%d %H:%M} UTC).",
        )
    if data.approver is None:
        err("approver", "Name the client owner who must sign.")
    elif not is_client_owner(user=data.approver, client=client):
        err("approver", APPROVER_NOT_OWNER)
    for control in data.controls:
        if control.kind not in ControlKind.values:
            err("compensating_controls", f"Unknown control kind {control.kind!r}.")
        if not (control.description or "").strip():
            err("compensating_controls", "Describe each compensating control.")
    if data.kind == ExceptionKind.ISOLATED_LANE:
        if not data.assets:
            err("assets", "An isolated lane names the asset that cannot take updates.")
        if not data.controls:
            err(
                "compensating_controls",
                "An isolated lane needs at least one compensating control.",
            )
    elif data.kind == ExceptionKind.DEFERRAL and not data.assets and not data.findings:
        err("findings", "A deferral names the findings or the assets it defers.")
    if errors:
        raise ValidationError(errors)


def _covered_by(exception: RiskException) -> QuerySet[Finding]:
    return Finding.objects.filter(
        Q(pk__in=exception.findings.values("pk")) | Q(asset__in=exception.assets.values("pk"))
    )


def _except_findings(exception: RiskException) -> list[str]:
    findings = _covered_by(exception).filter(state__in=EXCEPTABLE_STATES)
    uuids = [str(u) for u in findings.values_list("uuid", flat=True)]
    findings.update(state=FindingState.EXCEPTED, updated_at=timezone.now())
    return uuids


def _reopen_findings(exception: RiskException, *, at: datetime) -> list[str]:

    still_covered = covered_findings_at(at).values("pk")
    findings = (
        _covered_by(exception).filter(state=FindingState.EXCEPTED).exclude(pk__in=still_covered)
    )
    uuids = [str(u) for u in findings.values_list("uuid", flat=True)]
    findings.update(state=FindingState.OPEN, updated_at=timezone.now())
    return uuids


def _write_scope(exception: RiskException, data: ExceptionInput) -> None:
    exception.assets.set(data.assets)
    exception.findings.set(data.findings)
    exception.controls.all().delete()
    CompensatingControl.objects.bulk_create(
        CompensatingControl(exception=exception, kind=c.kind, description=c.description.strip())
        for c in data.controls
    )


def _payload(exception: RiskException, **extra: Any) -> dict[str, Any]:
    return {
        "uuid": str(exception.uuid),
        "version": exception.version,
        "kind": exception.kind,
        "ticket_reference": exception.ticket_reference,
        "expires_at": exception.expires_at.isoformat(),
        **extra,
    }


def open_duplicate(data: ExceptionInput) -> RiskException | None:
    """The exception still open for change (draft or pending sign-off) with the same PSA ticket
    (case and surrounding spaces ignored) and the same scope, locked; None when there is none."""
    ticket = data.ticket_reference.strip()
    assets = {a.pk for a in data.assets}
    findings = {f.pk for f in data.findings}
    candidates = (
        RiskException.objects.select_for_update()
        .filter(state__in=OPEN_FOR_CHANGE, kind=data.kind, ticket_reference__iexact=ticket)
        .order_by("created_at", "pk")
    )
    for candidate in candidates:
        if (
            set(candidate.assets.values_list("pk", flat=True)) == assets
            and set(candidate.findings.values_list("pk", flat=True)) == findings
        ):
            return candidate
    return None


def request_exception(
    *,
    client: Client,
    actor: Any,
    data: ExceptionInput,
    submit: bool = True,
    supersedes: RiskException | None = None,
) -> RiskException:
    """Create an exception (draft, or straight to pending sign-off when ``submit``).

    A duplicate request — one whose PSA ticket and scope (kind, assets, findings) match an
    exception still open for change — is merged into that exception: it is returned (with
    ``merged_duplicate`` set) and the owner is asked once, not twice; the merge is evented.
    """
    now = timezone.now()
    validate_exception_input(client=client, data=data, now=now)
    with transaction.atomic():
        duplicate = None if supersedes else open_duplicate(data)
        if duplicate is not None:
            record_event(
                kind="exception.duplicate_merged",
                subject_type=SUBJECT,
                subject_id=duplicate.uuid,
                actor=actor,
                payload=_payload(duplicate, requested_by=actor_label(actor)),
            )
            duplicate.merged_duplicate = True
            return duplicate
        exception = RiskException.objects.create(
            kind=data.kind,
            reason=data.reason.strip(),
            ticket_reference=data.ticket_reference.strip(),
            expires_at=data.expires_at,
            approver=data.approver,
            requested_by=actor if isinstance(actor, User) else None,
            requested_by_label=actor_label(actor),
            supersedes=supersedes,
            version=(supersedes.version + 1) if supersedes else 1,
            created_at=now,
        )
        _write_scope(exception, data)
        record_event(
            kind="exception.requested",
            subject_type=SUBJECT,
            subject_id=exception.uuid,
            actor=actor,
            payload=_payload(
                exception,
                supersedes=str(supersedes.uuid) if supersedes else None,
                approver=data.approver.email,
            ),
        )
        if submit:
            _submit(exception, actor=actor, now=now)
    return exception


def update_exception(
    *, client: Client, exception: RiskException, actor: Any, data: ExceptionInput
) -> RiskException:
    """Change a draft or pending exception in place (nobody has signed it yet)."""
    validate_exception_input(client=client, data=data)
    with transaction.atomic():
        locked = RiskException.objects.select_for_update().get(pk=exception.pk)
        if locked.state not in OPEN_FOR_CHANGE:
            raise ValidationError("This exception is signed or ended; create a new version.")
        before = locked.canonical_sha256()
        locked.kind = data.kind
        locked.reason = data.reason.strip()
        locked.ticket_reference = data.ticket_reference.strip()
        locked.expires_at = data.expires_at
        locked.approver = data.approver
        locked.save()
        _write_scope(locked, data)
        record_event(
            kind="exception.requested",
            subject_type=SUBJECT,
            subject_id=locked.uuid,
            actor=actor,
            payload=_payload(
                locked, edited=True, text_sha256_before=before, approver=data.approver.email
            ),
        )
    return locked


def _submit(exception: RiskException, *, actor: Any, now: datetime) -> None:
    updated = RiskException.objects.filter(pk=exception.pk, state=ExceptionState.DRAFT).update(
        state=ExceptionState.PENDING_SIGNOFF, submitted_at=now, updated_at=now
    )
    if not updated:
        raise ValidationError("Only a draft can be submitted for sign-off.")
    exception.state = ExceptionState.PENDING_SIGNOFF
    exception.submitted_at = now
    record_event(
        kind="exception.submitted",
        subject_type=SUBJECT,
        subject_id=exception.uuid,
        actor=actor,
        payload=_payload(exception, text_sha256=exception.canonical_sha256()),
    )


def submit_exception(*, exception: RiskException, actor: Any) -> RiskException:
    with transaction.atomic():
        _submit(exception, actor=actor, now=timezone.now())
    return exception


def revise_exception(
    *,
    client: Client,
    exception: RiskException,
    actor: Any,
    data: ExceptionInput,
    renewal: bool = False,
) -> RiskException:
    """A new version (renewal or edit) of a signed or ended exception; it needs a new signature.

    The original stays exactly as signed; once the new version is signed it replaces it.
    """
    if exception.state in OPEN_FOR_CHANGE:
        raise ValidationError("Edit the unsigned exception directly.")
    if exception.state == ExceptionState.REJECTED and renewal:
        raise ValidationError("A rejected exception cannot be renewed; request a new one.")
    if exception.successors.filter(state__in=OPEN_FOR_CHANGE).exists():
        raise ValidationError("A newer version is already awaiting sign-off.")
    with transaction.atomic():
        new = request_exception(client=client, actor=actor, data=data, supersedes=exception)
        record_event(
            kind="exception.renewed",
            subject_type=SUBJECT,
            subject_id=exception.uuid,
            actor=actor,
            payload=_payload(
                exception, successor=str(new.uuid), renewal=renewal, new_expiry=str(new.expires_at)
            ),
        )
    return new


def _check_signer(*, client: Client, exception: RiskException, user: User, password: str) -> None:
    if not is_client_owner(user=user, client=client):
        raise ValidationError("Only an owner of this client can sign its exceptions.")
    if exception.approver_id != user.pk:
        raise ValidationError("This exception awaits another owner's signature.")
    if not password or not user.check_password(password):
        raise ValidationError({"password": ["The password is not correct."]})


def _decide(
    *,
    client: Client,
    exception: RiskException,
    user: User,
    password: str,
    text_sha256: str,
    ip_address: str | None,
    user_agent: str,
    decision: str,
    reason: str = "",
    factor: SigningFactor | None = None,
) -> RiskException:
    now = timezone.now()
    _check_signer(client=client, exception=exception, user=user, password=password)
    if decision == SignatureDecision.REJECTED and not reason.strip():
        raise ValidationError({"reason": ["Say why you reject this exception."]})
    try:
        return _record_decision(
            client=client,
            exception=exception,
            user=user,
            text_sha256=text_sha256,
            ip_address=ip_address,
            user_agent=user_agent,
            decision=decision,
            reason=reason,
            factor=factor,
            now=now,
        )
    except FactorRefused as error:
        if factor is not None and factor.method in SignatureMethod.values:
            audit.record(
                "mfa.failed",
                actor=user,
                client=client,
                target=user.email,
                method=factor.method,
                purpose="exception.sign",
                exception=str(exception.uuid),
                reason=" ".join(error.messages)[:300],
            )
        raise


def _record_decision(
    *,
    client: Client,
    exception: RiskException,
    user: User,
    text_sha256: str,
    ip_address: str | None,
    user_agent: str,
    decision: str,
    reason: str,
    factor: SigningFactor | None,
    now: datetime,
) -> RiskException:
    with transaction.atomic():
        locked = RiskException.objects.select_for_update().get(pk=exception.pk)
        if locked.state != ExceptionState.PENDING_SIGNOFF:
            raise ValidationError("This exception is no longer awaiting a decision.")
        text = locked.canonical_text()
        digest = locked.canonical_sha256()
        if text_sha256 != digest:
            raise ValidationError(
                "The exception changed since you opened it. Read the current text and sign again."
            )
        if decision == SignatureDecision.SIGNED and locked.expires_at <= now:
            raise ValidationError("This exception's expiry has passed; it cannot be signed.")
        # A signature needs the owner's second factor now, over this very text; a rejection
        # stays a password-confirmed decision.
        proof = (
            verify_factor(user=user, text=text, factor=factor)
            if decision == SignatureDecision.SIGNED
            else FactorProof(method=SignatureMethod.PASSWORD)
        )
        new_state = (
            ExceptionState.ACTIVE
            if decision == SignatureDecision.SIGNED
            else ExceptionState.REJECTED
        )
        changes: dict[str, Any] = {"state": new_state, "updated_at": now}
        if new_state == ExceptionState.ACTIVE:
            changes["starts_at"] = now
        else:
            changes.update(ended_at=now, end_reason=reason.strip(), ended_by=user.email)
        updated = RiskException.objects.filter(
            pk=locked.pk, state=ExceptionState.PENDING_SIGNOFF
        ).update(**changes)
        if not updated:
            raise ValidationError("This exception is no longer awaiting a decision.")
        signature = Signature.objects.create(
            exception=locked,
            user=user,
            user_email=user.email,
            decision=decision,
            rejection_reason=reason.strip(),
            signed_at=now,
            ip_address=ip_address or None,
            user_agent=(user_agent or "")[:1000],
            signed_text=text,
            text_sha256=digest,
            **proof.record_fields(),
        )
        locked.refresh_from_db()
        extra: dict[str, Any] = {
            "text_sha256": digest,
            "ip_address": signature.ip_address,
            "user_agent": signature.user_agent,
            "method": proof.method,
        }
        if proof.method == SignatureMethod.PASSKEY:
            extra["credential_id"] = proof.credential_id
            extra["assertion_sha256"] = hashlib.sha256(
                proof.authenticator_data + proof.client_data_json + proof.signature
            ).hexdigest()
            extra["public_key_sha256"] = hashlib.sha256(proof.public_key).hexdigest()
        if new_state == ExceptionState.ACTIVE:
            extra["findings_excepted"] = _except_findings(locked)
            record_event(
                kind="exception.signed",
                subject_type=SUBJECT,
                subject_id=locked.uuid,
                actor=user,
                payload=_payload(locked, starts_at=now.isoformat(), **extra),
                occurred_at=now,
            )
            predecessor = locked.supersedes
            if predecessor is not None and predecessor.state == ExceptionState.ACTIVE:
                _end(
                    predecessor,
                    state=ExceptionState.REVOKED,
                    actor=user,
                    reason=f"Superseded by version {locked.version} ({locked.uuid}).",
                    at=now,
                    kind="exception.revoked",
                )
        else:
            record_event(
                kind="exception.rejected",
                subject_type=SUBJECT,
                subject_id=locked.uuid,
                actor=user,
                payload=_payload(locked, reason=reason.strip(), **extra),
                occurred_at=now,
            )
    return locked


def sign_exception(
    *,
    client: Client,
    exception: RiskException,
    user: User,
    password: str,
    text_sha256: str,
    factor: SigningFactor | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
) -> RiskException:
    """The approver signs the exact text they read, with their password and their second
    factor at this moment (``factor``: a passkey assertion over SHA-256 of the text, or a TOTP
    code); the exception becomes active now."""
    return _decide(
        client=client,
        exception=exception,
        user=user,
        password=password,
        text_sha256=text_sha256,
        ip_address=ip_address,
        user_agent=user_agent,
        decision=SignatureDecision.SIGNED,
        factor=factor,
    )


def reject_exception(
    *,
    client: Client,
    exception: RiskException,
    user: User,
    password: str,
    text_sha256: str,
    reason: str,
    ip_address: str | None = None,
    user_agent: str = "",
) -> RiskException:
    """The approver rejects it, with a reason."""
    return _decide(
        client=client,
        exception=exception,
        user=user,
        password=password,
        text_sha256=text_sha256,
        ip_address=ip_address,
        user_agent=user_agent,
        decision=SignatureDecision.REJECTED,
        reason=reason,
    )


def _end(
    exception: RiskException,
    *,
    state: str,
    actor: Any,
    reason: str,
    at: datetime,
    kind: str,
    from_states: Iterable[str] = (ExceptionState.ACTIVE,),
) -> bool:
    updated = RiskException.objects.filter(pk=exception.pk, state__in=list(from_states)).update(
        state=state,
        ended_at=at,
        end_reason=reason,
        ended_by=actor_label(actor),
        updated_at=timezone.now(),
    )
    if not updated:
        return False
    previous = exception.state
    exception.refresh_from_db()
    reopened = _reopen_findings(exception, at=at) if previous == ExceptionState.ACTIVE else []
    record_event(
        kind=kind,
        subject_type=SUBJECT,
        subject_id=exception.uuid,
        actor=actor,
        payload=_payload(
            exception, previous_state=previous, reason=reason, findings_reopened=reopened
        ),
    )
    return True


def revoke_exception(*, exception: RiskException, actor: Any, reason: str) -> RiskException:
    """The MSP withdraws an exception (active, pending or draft)."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the exception is revoked."]})
    with transaction.atomic():
        done = _end(
            exception,
            state=ExceptionState.REVOKED,
            actor=actor,
            reason=reason.strip(),
            at=timezone.now(),
            kind="exception.revoked",
            from_states=(
                ExceptionState.ACTIVE,
                ExceptionState.PENDING_SIGNOFF,
                ExceptionState.DRAFT,
            ),
        )
        if not done:
            raise ValidationError("Only a draft, pending or active exception can be revoked.")
    return exception


def expire_due_exceptions(*, now: datetime | None = None) -> int:
    """End every exception whose hard expiry has passed (current client). Idempotent."""
    now = now or timezone.now()
    count = 0
    due = RiskException.objects.filter(
        state__in=[ExceptionState.ACTIVE, ExceptionState.PENDING_SIGNOFF, ExceptionState.DRAFT],
        expires_at__lte=now,
    )
    for exception in due:
        with transaction.atomic():
            if _end(
                exception,
                state=ExceptionState.EXPIRED,
                actor="system",
                reason="Reached its hard expiry.",
                at=exception.expires_at,
                kind="exception.expired",
                from_states=(exception.state,),
            ):
                count += 1
    return count


def send_due_reminders(*, client: Client, now: datetime | None = None) -> int:
    """Remind the requester and the approver 14, 7 and 1 days before expiry, once each.

    An ``ExceptionReminder`` row (unique per exception and lead time) is written before the
    mail, with an ``exception.expiring`` event per new row; when several lead times fall due at
    once only the nearest is mailed.
    """
    now = now or timezone.now()
    horizon = now + timedelta(days=max(REMINDER_DAYS))
    sent = 0
    candidates = RiskException.objects.filter(
        state=ExceptionState.ACTIVE, expires_at__gt=now, expires_at__lte=horizon
    ).select_related("approver", "requested_by")
    for exception in candidates:
        due = [d for d in REMINDER_DAYS if exception.expires_at - now <= timedelta(days=d)]
        with transaction.atomic():
            created: list[int] = []
            for days in due:
                try:
                    with transaction.atomic():
                        _, is_new = ExceptionReminder.objects.get_or_create(
                            exception=exception, days_before=days, defaults={"sent_at": now}
                        )
                except IntegrityError:
                    is_new = False
                if is_new:
                    created.append(days)
            if not created:
                continue
            recipients = [exception.approver.email]
            if exception.requested_by is not None:
                recipients.append(exception.requested_by.email)
            ExceptionReminder.objects.filter(exception=exception, days_before__in=created).update(
                recipients=sorted(set(recipients))
            )
            # Once per exception and lead time, like its reminder row (the webhooks hear it).
            for days in sorted(created, reverse=True):
                record_event(
                    kind="exception.expiring",
                    subject_type="exception",
                    subject_id=exception.uuid,
                    actor="system:exception-reminders",
                    payload=_payload(exception, days_before=days),
                    occurred_at=now,
                )
            send_templated(
                template="exceptions_register/emails/expiry_reminder",
                to=recipients,
                context={
                    "client": client,
                    "exception": exception,
                    "days_left": exception.days_left(at=now),
                    "lead_days": min(created),
                    "detail_url": f"/clients/{client.slug}/exceptions/{exception.uuid}/",
                    "portal_url": f"/clients/{client.slug}/portal/exceptions/",
                },
            )
            sent += 1
    return sent
