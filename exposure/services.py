"""Exposure alerts and their triage (the playbook's credential alert workflow).

An alert arrives through the API or a feed's signed webhook (``receive_alert``) with the
exposed address, the source that saw it, what was exposed, the breach and when. The same
(address, source, what, breach) within ``EXPOSURE_DEDUP_WINDOW_DAYS`` is merged into the alert
already open, so one breach pages once. A new alert starts, in the transaction that records it,
the three steps of its response, each timed against the client's tier
(``tenants.tiers.Tier.exposure_response``):

1. a PSA ticket (``integrations.services.open_ticket``): done when the PSA took it
   (``ticket.sent``), or at once when no PSA is connected (the ticket is in PatchOps' list);
2. a forced password reset: a signed call to the client's RMM connector through the outbox
   (done when the RMM accepted it), else a tracked manual task an engineer marks done;
3. the client owners told (``notifications``): done when told; without an owner it waits for
   an engineer to tell someone and mark it done.

Every step's outcome is in the client's evidence chain with its minutes and whether it was
within the response time; ``watch_overdue`` marks the steps that were not done in time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evidence.services import actor_label, record_event
from integrations.choices import TicketCategory, TicketPriority
from integrations.connectors import WebhookConnector, get_connector
from integrations.models import PsaTicket
from integrations.services import open_ticket
from notifications.choices import NotificationKind
from notifications.services import Message, client_owners, notify
from tenants.models import Client
from tenants.tiers import tier_of

from .choices import ResetVia, Step, StepState
from .models import ExposureAlert, ExposureFeed, ExposureStep

__all__ = [
    "RESET_EVENT",
    "NotInPlan",
    "Received",
    "clean_alert",
    "dedup_key",
    "receive_alert",
    "complete_step",
    "watch_overdue",
    "on_ticket_sent",
    "on_reset_delivered",
    "on_reset_dead",
    "create_feed",
]

RESET_EVENT = "account.password_reset"
LIMITS = {"source": 100, "exposed": 200, "breach": 200}


class NotInPlan(Exception):
    """The client's plan has no exposure monitoring (answered 403, nothing recorded)."""


@dataclass(frozen=True)
class Received:
    alert: ExposureAlert
    merged: bool


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes // 60} h {minutes % 60} min"


def _ago(alert: ExposureAlert, at: datetime) -> str:
    minutes = max(0, int((at - alert.received_at).total_seconds() // 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


# --------------------------------------------------------------------------- input


def clean_alert(data: Any) -> dict[str, Any]:
    """The alert's fields, trimmed, or ``ValidationError`` naming every bad one."""
    if not isinstance(data, dict):
        raise ValidationError({"alert": ["Send one alert as a JSON object."]})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    email = data.get("email")
    email = email.strip().lower() if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Give the exposed e-mail address, e.g. jane@clinic.example."]
    out["email"] = email
    for name, limit in LIMITS.items():
        value = data.get(name)
        value = " ".join(value.split()) if isinstance(value, str) else ""
        if not value:
            errors[name] = [f"Give the {name} of the alert."]
        elif len(value) > limit:
            errors[name] = [f"The {name} is at most {limit} characters."]
        out[name] = value
    exposed_at = data.get("exposed_at")
    out["exposed_at"] = None
    if exposed_at not in (None, ""):
        parsed = exposed_at if isinstance(exposed_at, datetime) else None
        if isinstance(exposed_at, str):
            try:
                parsed = parse_datetime(exposed_at)
            except ValueError:
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            errors["exposed_at"] = ["Give when it was exposed in ISO 8601 with an offset."]
        elif parsed > timezone.now() + timedelta(minutes=5):
            errors["exposed_at"] = ["The exposure time is in the future."]
        else:
            out["exposed_at"] = parsed
    if errors:
        raise ValidationError(errors)
    return out


def dedup_key(*, email: str, source: str, exposed: str, breach: str) -> str:
    """One breach of one address, as every report of it names it (case and spaces aside)."""
    parts = [" ".join(p.split()).casefold() for p in (email, source, exposed, breach)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# --------------------------------------------------------------------------- receiving


def receive_alert(
    *,
    client: Client,
    data: Any,
    via: str,
    actor: Any,
    feed: ExposureFeed | None = None,
    at: datetime | None = None,
) -> Received:
    """Record one alert in the current client's schema and start its response, or merge it
    into the same exposure already received within the window. Raises ``NotInPlan`` or
    ``ValidationError`` (nothing recorded)."""
    tier = tier_of(client)
    if not tier.exposure_monitoring or tier.exposure_response is None:
        raise NotInPlan(
            f"Exposure monitoring is not part of {client.name}'s {tier.label} plan; it comes "
            "with the Compliance + Exposure plan."
        )
    fields = clean_alert(data)
    at = at or timezone.now()
    key = dedup_key(
        email=fields["email"],
        source=fields["source"],
        exposed=fields["exposed"],
        breach=fields["breach"],
    )
    window = timedelta(days=settings.EXPOSURE_DEDUP_WINDOW_DAYS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || %s))",
                [f":exposure:{key}"],
            )
        existing = (
            ExposureAlert.objects.filter(dedup_key=key, received_at__gte=at - window)
            .order_by("-received_at")
            .first()
        )
        if existing is not None:
            ExposureAlert.objects.filter(pk=existing.pk).update(
                duplicates=existing.duplicates + 1, last_received_at=at
            )
            existing.refresh_from_db()
            record_event(
                kind="exposure.alert_merged",
                subject_type="exposure_alert",
                subject_id=existing.uuid,
                actor=actor_label(actor),
                payload={"duplicates": existing.duplicates, "via": via},
                occurred_at=at,
            )
            return Received(existing, True)
        connector = get_connector()
        alert = ExposureAlert.objects.create(
            **fields,
            dedup_key=key,
            via=via,
            feed=feed,
            received_at=at,
            last_received_at=at,
            due_at=at + tier.exposure_response,
            reset_via=(
                ResetVia.CONNECTOR if isinstance(connector, WebhookConnector) else ResetVia.MANUAL
            ),
            received_by=actor_label(actor)[:200],
        )
        record_event(
            kind="exposure.alert_received",
            subject_type="exposure_alert",
            subject_id=alert.uuid,
            actor=alert.received_by,
            payload={
                **fields,
                "exposed_at": fields["exposed_at"].isoformat() if fields["exposed_at"] else None,
                "due_at": alert.due_at.isoformat(),
                "via": via,
                "reset_via": alert.reset_via,
            },
            occurred_at=at,
        )
        _open_ticket(alert, at)
        _start_reset(alert, connector, at)
        _tell_owners(alert, client, at)
    return Received(alert, False)


def _step(alert: ExposureAlert, step: str, at: datetime, **fields: Any) -> ExposureStep:
    return ExposureStep.objects.create(alert=alert, step=step, started_at=at, **fields)


def _done(step: ExposureStep, *, at: datetime, by: str, reference: str, detail: str) -> None:
    """Mark ``step`` done at ``at`` and record it with its minutes against the due time."""
    alert = step.alert
    within = at <= alert.due_at
    clock = (
        f"{_ago(alert, at)} after the alert, "
        + ("within" if within else "outside")
        + f" the {_hours(alert.due_at - alert.received_at)} response time"
    )
    text = f"{detail} ({clock})."
    ExposureStep.objects.filter(pk=step.pk).update(
        state=StepState.DONE, done_at=at, done_by=by[:200], reference=reference[:200], detail=text
    )
    record_event(
        kind="exposure.step_done",
        subject_type="exposure_alert",
        subject_id=alert.uuid,
        actor=by,
        payload={
            "step": step.step,
            "reference": reference[:200],
            "minutes": max(0, int((at - alert.received_at).total_seconds() // 60)),
            "within_sla": within,
            "detail": text,
        },
        occurred_at=at,
    )


def _open_ticket(alert: ExposureAlert, at: datetime) -> None:
    ticket = open_ticket(
        category=TicketCategory.EXPOSURE,
        summary=f"Credential exposure: {alert.email} ({alert.exposed}) in {alert.breach}",
        description=(
            f"{alert.source} reports that the {alert.exposed} of {alert.email} was exposed in "
            f"{alert.breach}"
            + (f" on {alert.exposed_at:%Y-%m-%d}" if alert.exposed_at else "")
            + ".\nForce a password reset, check the account's recent sign-ins and tell the "
            f"client owner. Respond by {alert.due_at:%Y-%m-%d %H:%M} UTC."
        ),
        priority=TicketPriority.HIGH,
        related={"exposure": str(alert.uuid)},
        at=at,
        actor="system:exposure",
    )
    ExposureAlert.objects.filter(pk=alert.pk).update(ticket_uuid=ticket.uuid)
    alert.ticket_uuid = ticket.uuid
    ticket = PsaTicket.objects.select_related("connection").get(pk=ticket.pk)
    if ticket.connection is not None:
        _step(
            alert,
            Step.TICKET,
            at,
            reference=str(ticket.uuid),
            detail=f"Ticket queued for {ticket.connection.get_kind_display()}; waiting for the "
            "PSA to take it.",
        )
        return
    step = _step(alert, Step.TICKET, at, reference=str(ticket.uuid))
    _done(
        step,
        at=at,
        by="system:exposure",
        reference=str(ticket.uuid),
        detail="Ticket opened in the PatchOps ticket list (no PSA is connected)",
    )


def _start_reset(alert: ExposureAlert, connector: Any, at: datetime) -> None:
    if isinstance(connector, WebhookConnector):
        message = connector.enqueue(
            RESET_EVENT,
            {
                "alert": str(alert.uuid),
                "email": alert.email,
                "reason": f"{alert.exposed} exposed in {alert.breach} ({alert.source})",
            },
            key=str(alert.uuid),
        )
        _step(
            alert,
            Step.RESET,
            at,
            reference=str(message.uuid),
            detail=f"Forced password reset of {alert.email} sent to {connector.webhook.name}; "
            "waiting for it to accept.",
        )
        return
    _step(
        alert,
        Step.RESET,
        at,
        detail=f"No connector can reset passwords for this client: an engineer must force the "
        f"reset of {alert.email} and mark this task done.",
    )


def _tell_owners(alert: ExposureAlert, client: Client, at: datetime) -> None:
    owners = client_owners(client)
    if not owners:
        _step(
            alert,
            Step.NOTIFY,
            at,
            detail="The client has no owner to tell: tell its contact another way and mark "
            "this done (or give the client an owner on its People page).",
        )
        return
    message = Message(
        NotificationKind.EXPOSURE_ALERT,
        f"{client.name}: the {alert.exposed} of {alert.email} was exposed",
        f"/clients/{client.slug}/exposure/{alert.uuid}/",
        [
            f"{alert.source} saw it in {alert.breach}.",
            "We are forcing a password reset and have opened a ticket; nothing is needed from "
            "you unless the person still signs in with that password elsewhere.",
        ],
    )
    notify(
        message=message,
        client=client,
        users=owners,
        key=f"{client.schema_name}:exposure:{alert.uuid}",
        at=at,
    )
    step = _step(alert, Step.NOTIFY, at)
    names = ", ".join(sorted(o.get_full_name() for o in owners))
    _done(
        step,
        at=at,
        by="system:exposure",
        reference=",".join(sorted(str(o.uuid) for o in owners)),
        detail=f"Client owner told: {names}",
    )


# --------------------------------------------------------------------------- later steps


MANUAL_STEPS = (Step.RESET, Step.NOTIFY)


def complete_step(
    *, alert: ExposureAlert, step: str, actor: Any, note: str = "", at: datetime | None = None
) -> ExposureStep:
    """An engineer did a waiting manual step (the reset by hand, the owner told another way).
    ``ValidationError`` for a step that is not waiting or is not done by hand."""
    at = at or timezone.now()
    if step not in MANUAL_STEPS:
        raise ValidationError({"step": ["Only the reset and the owner's notice are done by hand."]})
    note = " ".join(str(note or "").split())[:500]
    with transaction.atomic():
        row = (
            ExposureStep.objects.select_for_update()
            .select_related("alert")
            .filter(alert=alert, step=step)
            .first()
        )
        if row is None or row.state == StepState.DONE:
            raise ValidationError({"step": ["This step is already done."]})
        connector_busy = alert.reset_via == ResetVia.CONNECTOR and row.state != StepState.FAILED
        if step == Step.RESET and row.reference and connector_busy:
            raise ValidationError({"step": ["The connector is resetting it; wait for its answer."]})
        by = actor_label(actor)
        what = "Password reset forced by hand" if step == Step.RESET else "Owner told by hand"
        _done(
            row,
            at=at,
            by=by,
            reference=row.reference,
            detail=f"{what} by {by}" + (f": {note}" if note else ""),
        )
    row.refresh_from_db()
    return row


def on_ticket_sent(event: Any) -> None:
    """``ticket.sent``: the PSA took an alert's ticket; its ticket step is done."""
    alert = ExposureAlert.objects.filter(ticket_uuid=event.subject_id).first()
    if alert is None:
        return
    step = ExposureStep.objects.select_related("alert").filter(alert=alert, step=Step.TICKET)
    row = step.exclude(state=StepState.DONE).first()
    if row is None:
        return
    external = str(event.payload.get("external_id", ""))
    _done(
        row,
        at=event.occurred_at,
        by="system:exposure",
        reference=external,
        detail=f"Ticket {external} opened in {event.payload.get('psa', 'the PSA')}",
    )


def _reset_alert(message: Any) -> ExposureStep | None:
    if getattr(message, "event", "") != RESET_EVENT:
        return None
    return (
        ExposureStep.objects.select_related("alert")
        .filter(alert__uuid=message.payload.get("alert"), step=Step.RESET)
        .exclude(state=StepState.DONE)
        .first()
    )


def on_reset_delivered(*, message: Any, at: datetime) -> None:
    """The RMM accepted a reset call: the alert's reset step is done."""
    row = _reset_alert(message)
    if row is None:
        return
    _done(
        row,
        at=at,
        by="system:exposure",
        reference=str(message.uuid),
        detail=f"Password reset of {row.alert.email} forced through the RMM connector",
    )


def on_reset_dead(*, message: Any, at: datetime) -> None:
    """The RMM never took the reset call: the reset becomes a manual task."""
    row = _reset_alert(message)
    if row is None:
        return
    detail = (
        f"The RMM did not accept the reset call ({message.last_error or 'no answer'}): an "
        f"engineer must force the reset of {row.alert.email} by hand and mark this task done."
    )
    ExposureStep.objects.filter(pk=row.pk).update(state=StepState.FAILED, detail=detail[:2000])
    record_event(
        kind="exposure.step_failed",
        subject_type="exposure_alert",
        subject_id=row.alert.uuid,
        actor="system:exposure",
        payload={"step": row.step, "reference": str(message.uuid), "detail": detail[:2000]},
        occurred_at=at,
    )


def watch_overdue(*, at: datetime | None = None) -> int:
    """Steps not done by their alert's due time: marked overdue and recorded, once each."""
    at = at or timezone.now()
    late = (
        ExposureStep.objects.select_related("alert")
        .filter(overdue_at__isnull=True, alert__due_at__lt=at)
        .exclude(state=StepState.DONE)
    )
    count = 0
    for row in late:
        with transaction.atomic():
            if not ExposureStep.objects.filter(pk=row.pk, overdue_at__isnull=True).update(
                overdue_at=at
            ):
                continue
            record_event(
                kind="exposure.step_overdue",
                subject_type="exposure_alert",
                subject_id=row.alert.uuid,
                actor="system:exposure",
                payload={"step": row.step, "due_at": row.alert.due_at.isoformat()},
                occurred_at=at,
            )
        count += 1
    return count


# --------------------------------------------------------------------------- feeds


def create_feed(*, name: Any, secret: Any, actor: Any) -> ExposureFeed:
    """A feed whose webhook signs with ``secret`` (at least 24 characters)."""
    errors: dict[str, list[str]] = {}
    name = " ".join(name.split()) if isinstance(name, str) else ""
    secret = secret.strip() if isinstance(secret, str) else ""
    if not name or len(name) > 100:
        errors["name"] = ["Give the feed a name of at most 100 characters."]
    if len(secret) < 24 or len(secret) > 200:
        errors["secret"] = ["The signing secret is 24 to 200 characters."]
    if errors:
        raise ValidationError(errors)
    return ExposureFeed.objects.create(
        name=name, secret=secret, created_at=timezone.now(), created_by=actor_label(actor)[:200]
    )
