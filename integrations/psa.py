"""Two-way PSA tickets: what opens, notes and closes a client's tickets in its PSA (through the
outbox), and what the PSA reports back (webhooks/callbacks and polling).

Tickets are opened for failure-rate breaches and failed runbook checks (``ticket.queued``, from
``services.open_ticket``), overdue findings at or above the connection's severity
(``finding.overdue``) and exception requests (``exception.requested``). They get a note as the
work moves (a rollout halted again, an exception submitted) and are closed, with the link to the
subject's portal page in the closing note, when the rollout recovers (``rollout.resumed``,
``rollout.completed``), the finding is verified (``finding.verified``) or the exception is
decided. Each ticket's calls go out in order: its note and closing wait for its creation.

Inbound, a status the PSA reports is mapped through the connection's ``status_map`` to open,
in progress or closed (``ticket.status_changed``; ``ticket.closed_in_psa`` when closed). A
ticket of the client's company and board that PatchOps did not open is kept as a PSA-reported
ticket (``source=psa``) so the after-hours figure counts it, once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from evidence.services import record_event

from . import outbox, psa_vendors
from .choices import (
    DeliveryState,
    PsaKind,
    TicketCategory,
    TicketMeaning,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from .models import OutboxMessage, PsaConnection, PsaTicket

__all__ = [
    "active_connection",
    "apply_remote",
    "close_subject",
    "evidence_link",
    "note_subject",
    "on_event",
    "poll",
    "queue_create",
    "receive_inbound",
    "save_connection",
    "InboundRefused",
]

log = logging.getLogger(__name__)
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
SUBJECT_PAGES = {
    "rollout": "rollouts/{id}/",
    "finding": "findings/{id}/",
    "exception": "exceptions/{id}/",
}
SECRET_FIELDS = ("api_secret", "webhook_secret")


def active_connection() -> PsaConnection | None:
    """The current client's PSA connection (the first active one)."""
    return PsaConnection.objects.filter(is_active=True).order_by("pk").first()


def mask(value: str) -> str:
    """A secret as it is shown back: its last four characters at most."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


def evidence_link(subject_type: str, subject_id: str) -> str:
    """The portal page of a ticket's subject (the evidence a closing note points to)."""
    slug = getattr(getattr(connection, "tenant", None), "slug", "") or connection.schema_name
    page = SUBJECT_PAGES.get(subject_type, "evidence/").format(id=subject_id)
    return f"{settings.PORTAL_URL.rstrip('/')}/clients/{slug}/{page}"


# --------------------------------------------------------------------------- the connection


def _validate(conn: PsaConnection) -> None:
    errors: dict[str, str] = {}
    if conn.kind not in PsaKind.values:
        errors["kind"] = "Choose ConnectWise Manage, Autotask or HaloPSA."
    needs = {
        PsaKind.CONNECTWISE: ("login_company", "api_user", "api_secret", "app_id"),
        PsaKind.AUTOTASK: ("api_user", "api_secret", "app_id"),
        PsaKind.HALOPSA: ("api_user", "api_secret"),
    }.get(conn.kind, ())
    for name in needs:
        if not getattr(conn, name):
            errors[name] = "This PSA needs it to sign in."
    if not conn.company_ref.strip():
        errors["company_ref"] = "Give the client's company id in the PSA."
    if not isinstance(conn.priority_map, dict) or any(
        k not in TicketPriority.values or not isinstance(v, (str, int))
        for k, v in conn.priority_map.items()
    ):
        errors["priority_map"] = "Map critical, high, medium and low to PSA priority ids."
    if not isinstance(conn.status_map, dict) or any(
        v not in TicketMeaning.values for v in conn.status_map.values()
    ):
        errors["status_map"] = "Map each PSA status to open, in_progress or closed."
    if conn.overdue_min_severity not in SEVERITY_RANK:
        errors["overdue_min_severity"] = "Choose critical, high, medium or low."
    if errors:
        raise ValidationError(errors)


def save_connection(
    *, data: dict[str, Any], actor: Any, instance: PsaConnection | None = None
) -> PsaConnection:
    """Create or change a connection. A secret left blank on a change keeps its value (the
    page and the API never show it back)."""
    now = timezone.now()
    conn = instance or PsaConnection(created_at=now)
    for name, value in data.items():
        if name in SECRET_FIELDS and instance is not None and not value:
            continue
        setattr(conn, name, value)
    conn.priority_map = {k: str(v) for k, v in (conn.priority_map or {}).items()}
    conn.status_map = {str(k): v for k, v in (conn.status_map or {}).items()}
    _validate(conn)
    conn.updated_at = now
    if instance is not None:
        conn.access_token, conn.token_expires_at = "", None  # credentials may have changed
    with transaction.atomic():
        conn.save()
        record_event(
            kind="psa_connection.saved",
            subject_type="psa_connection",
            subject_id=conn.uuid,
            actor=actor,
            payload={
                "name": conn.name,
                "kind": conn.kind,
                "base_url": conn.base_url,
                "company": conn.company_ref,
                "board": conn.board_ref,
                "created": instance is None,
            },
            occurred_at=now,
        )
    return conn


# --------------------------------------------------------------------------- outbound


def _enqueue(
    conn: PsaConnection, ticket: PsaTicket, event: str, payload: dict[str, Any], key: str
) -> OutboxMessage:
    previous = (
        OutboxMessage.objects.filter(psa_ticket=ticket).order_by("-created_at", "-pk").first()
    )
    message, _ = outbox.enqueue(
        kind=conn.kind,
        event=event,
        target=conn.base_url,
        payload=payload,
        idempotency_key=f"psa:{conn.uuid}:{ticket.uuid}:{key}"[:200],
        subject_type="psa_ticket",
        subject_id=str(ticket.uuid),
        max_attempts=conn.max_attempts,
        psa_connection=conn,
        psa_ticket=ticket,
        after=previous,
    )
    return message


def queue_create(ticket: PsaTicket) -> OutboxMessage | None:
    """Queue the ticket's creation in the client's PSA (nothing without a connection)."""
    conn = active_connection()
    if conn is None or ticket.source != TicketSource.PATCHOPS:
        return None
    related = ticket.related or {}
    subject_type, subject_id = ticket.subject_type, ticket.subject_id
    if not subject_type:
        for name in ("rollout", "finding", "exception"):
            if related.get(name):
                subject_type, subject_id = name, str(related[name])
                break
    PsaTicket.objects.filter(pk=ticket.pk).update(
        connection=conn, subject_type=subject_type, subject_id=subject_id
    )
    ticket.connection, ticket.subject_type, ticket.subject_id = conn, subject_type, subject_id
    link = evidence_link(subject_type, subject_id) if subject_type else ""
    description = ticket.description + (f"\n\nIn PatchOps: {link}" if link else "")
    return _enqueue(
        conn,
        ticket,
        "ticket.create",
        {
            "summary": ticket.summary,
            "description": description,
            "priority": ticket.priority,
            "psa_priority": str((conn.priority_map or {}).get(ticket.priority, "")),
            "category": ticket.category,
        },
        "create",
    )


def _open_tickets(subject_type: str, subject_id: str):
    return PsaTicket.objects.filter(
        subject_type=subject_type,
        subject_id=str(subject_id),
        source=TicketSource.PATCHOPS,
        connection__isnull=False,
        closed_at__isnull=True,
    ).select_related("connection")


def note_subject(*, subject_type: str, subject_id: str, text: str, key: str) -> int:
    """Add a note to the open tickets of a subject; returns how many were noted."""
    count = 0
    for ticket in _open_tickets(subject_type, subject_id):
        _enqueue(ticket.connection, ticket, "ticket.note", {"text": text}, f"note:{key}")
        count += 1
    return count


def close_subject(
    *,
    subject_type: str,
    subject_id: str,
    reason: str,
    key: str,
    at: datetime | None = None,
    resolved_by: str = "",
) -> int:
    """Close the open tickets of a subject: a closing note with the evidence link, then the
    closed status; returns how many. ``resolved_by`` names whose action resolved it (the actor of
    the event that closes it: the engineer who resumed the rollout, the signer…)."""
    at = at or timezone.now()
    link = evidence_link(subject_type, subject_id)
    count = 0
    for ticket in _open_tickets(subject_type, subject_id):
        conn = ticket.connection
        text = f"{reason}\nEvidence: {link}"
        _enqueue(conn, ticket, "ticket.note", {"text": text, "closing": True}, f"close-note:{key}")
        _enqueue(conn, ticket, "ticket.close", {"link": link, "reason": reason}, f"close:{key}")
        PsaTicket.objects.filter(pk=ticket.pk).update(
            closed_at=at, meaning=TicketMeaning.CLOSED, resolved_by=resolved_by[:255]
        )
        record_event(
            kind="ticket.closed",
            subject_type="psa_ticket",
            subject_id=ticket.uuid,
            actor="system:integrations",
            payload={"reason": reason, "evidence": link, "external_id": ticket.external_id},
            occurred_at=at,
        )
        count += 1
    return count


def queue_poll(conn: PsaConnection, at: datetime | None = None) -> OutboxMessage:
    """Queue one read of the PSA's tickets for the client's company and board."""
    at = at or timezone.now()
    message, _ = outbox.enqueue(
        kind=conn.kind,
        event="tickets.poll",
        target=conn.base_url,
        payload={"since": conn.last_polled_at.isoformat() if conn.last_polled_at else None},
        idempotency_key=f"psa-poll:{conn.uuid}:{at.strftime('%Y%m%d%H%M')}",
        subject_type="psa_connection",
        subject_id=str(conn.uuid),
        max_attempts=1,
        psa_connection=conn,
        at=at,
    )
    return message


def poll(at: datetime | None = None) -> int:
    """Queue a read of every active polled connection of the current client."""
    count = 0
    for conn in PsaConnection.objects.filter(is_active=True, poll=True):
        queue_poll(conn, at)
        count += 1
    return count


class PsaSender:
    """Sends one PSA's calls; reads the created ticket's id and the polled ticket list."""

    reads_response = True

    def _conn(self, message: OutboxMessage) -> PsaConnection:
        conn = message.psa_connection
        if conn is None:
            raise outbox.PermanentDeliveryError("The PSA connection was removed.")
        return conn

    def request(self, message: OutboxMessage) -> outbox.OutboundRequest:
        conn = self._conn(message)
        proto = psa_vendors.protocol(conn)
        if message.event == "tickets.poll":
            since = message.payload.get("since")
            method, url, body = proto.poll(conn, datetime.fromisoformat(since) if since else None)
        elif message.event == "ticket.create":
            method, url, body = proto.create(conn, message.payload)
        else:
            ticket = message.psa_ticket
            if ticket is None or not ticket.external_id:
                raise outbox.PermanentDeliveryError("The ticket was never created in the PSA.")
            if message.event == "ticket.note":
                method, url, body = proto.note(conn, ticket.external_id, message.payload["text"])
            else:
                method, url, body = proto.close(conn, ticket.external_id)
        headers = proto.headers(conn)
        headers[outbox.IDEMPOTENCY_HEADER] = message.idempotency_key
        return outbox.OutboundRequest(
            url=url, body=body, headers=headers, method=method, timeout=15.0
        )

    def delivered(self, message: OutboxMessage, at: datetime, response: bytes = b"") -> None:
        conn = message.psa_connection
        if conn is None:
            return
        if message.event == "tickets.poll":
            tickets = psa_vendors.parse_ticket_list(conn, json.loads(response or b"[]"))
            for remote in tickets:
                apply_remote(conn, remote, via="poll", at=at)
            PsaConnection.objects.filter(pk=conn.pk).update(last_polled_at=at)
            return
        ticket = message.psa_ticket
        if ticket is None:
            return
        if message.event == "ticket.create":
            external_id = psa_vendors.protocol(conn).created_id(json.loads(response))
            PsaTicket.objects.filter(pk=ticket.pk).update(
                external_id=external_id, status=TicketStatus.SENT, sent_at=at, last_error=""
            )
            record_event(
                kind="ticket.sent",
                subject_type="psa_ticket",
                subject_id=ticket.uuid,
                actor="system:integrations",
                payload={"psa": conn.kind, "external_id": external_id},
                occurred_at=at,
            )
        PsaTicket.objects.filter(pk=ticket.pk).update(attempts=message.attempts)

    def dead(self, message: OutboxMessage, at: datetime) -> None:
        if message.event == "ticket.create" and message.psa_ticket_id:
            PsaTicket.objects.filter(pk=message.psa_ticket_id).update(
                status=TicketStatus.FAILED,
                last_error=message.last_error[:2000],
                attempts=message.attempts,
            )

    def refuse_retry(self, message: OutboxMessage) -> str | None:
        if message.psa_connection is None:
            return "The PSA connection of this call was removed."
        return None


for _kind in PsaKind.values:
    outbox.register(_kind, PsaSender())


# --------------------------------------------------------------------------- inbound


class InboundRefused(Exception):
    """A call back that is not accepted (``status``: 400 bad, 401 unsigned, 403 bad signature)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _meaning(conn: PsaConnection, remote: psa_vendors.Remote) -> str:
    mapping = conn.status_map or {}
    for key in (remote.status, remote.status_name):
        if key and key in mapping:
            return mapping[key]
    return TicketMeaning.CLOSED if remote.closed else TicketMeaning.OPEN


def _belongs(conn: PsaConnection, remote: psa_vendors.Remote) -> bool:
    if remote.company and remote.company != str(conn.company_ref):
        return False
    return not (conn.board_ref and remote.board and remote.board != str(conn.board_ref))


def _resolver(conn: PsaConnection, remote: psa_vendors.Remote) -> str:
    """Who closed a ticket in the PSA: the member it names, else ``psa:<kind>``."""
    return (remote.resolved_by or f"psa:{conn.kind}")[:255]


def apply_remote(
    conn: PsaConnection, remote: psa_vendors.Remote, *, via: str, at: datetime | None = None
) -> PsaTicket | None:
    """Bring one ticket as the PSA reports it into PatchOps: its status on a known ticket (an
    event when it changed); a ticket of the client's company and board PatchOps did not open is
    kept as PSA-reported (counted once by the after-hours figure)."""
    from .services import is_after_hours

    at = at or timezone.now()
    meaning = _meaning(conn, remote)
    status_label = remote.status_name or remote.status
    ticket = PsaTicket.objects.filter(connection=conn, external_id=remote.external_id).first()
    if ticket is None:
        if not remote.company or not _belongs(conn, remote):
            return None
        created = remote.created_at or at
        client = getattr(connection, "tenant", None)
        ticket = PsaTicket.objects.create(
            connection=conn,
            source=TicketSource.PSA,
            category=TicketCategory.PATCHING,
            summary=(remote.summary or f"PSA ticket {remote.external_id}")[:250],
            created_at=created,
            is_after_hours=is_after_hours(created, client) if client is not None else False,
            status=TicketStatus.SENT,
            external_id=remote.external_id,
            external_status=status_label[:120],
            meaning=meaning,
            closed_at=at if meaning == TicketMeaning.CLOSED else None,
            resolved_by=_resolver(conn, remote) if meaning == TicketMeaning.CLOSED else "",
        )
        record_event(
            kind="ticket.reported",
            subject_type="psa_ticket",
            subject_id=ticket.uuid,
            actor=f"psa:{conn.kind}",
            payload={
                "external_id": remote.external_id,
                "status": status_label,
                "meaning": meaning,
                "after_hours": ticket.is_after_hours,
                "via": via,
            },
            occurred_at=at,
        )
        return ticket
    if ticket.external_status == status_label and ticket.meaning == meaning:
        return ticket
    before = ticket.meaning
    PsaTicket.objects.filter(pk=ticket.pk).update(
        external_status=status_label[:120],
        meaning=meaning,
        closed_at=(ticket.closed_at or at) if meaning == TicketMeaning.CLOSED else None,
        resolved_by=(
            (ticket.resolved_by or _resolver(conn, remote))
            if meaning == TicketMeaning.CLOSED
            else ""
        ),
    )
    record_event(
        kind="ticket.status_changed",
        subject_type="psa_ticket",
        subject_id=ticket.uuid,
        actor=f"psa:{conn.kind}",
        payload={
            "external_id": remote.external_id,
            "status": status_label,
            "meaning": meaning,
            "previous": before,
            "via": via,
        },
        occurred_at=at,
    )
    if meaning == TicketMeaning.CLOSED and before != TicketMeaning.CLOSED:
        record_event(
            kind="ticket.closed_in_psa",
            subject_type="psa_ticket",
            subject_id=ticket.uuid,
            actor=f"psa:{conn.kind}",
            payload={"external_id": remote.external_id, "status": status_label, "via": via},
            occurred_at=at,
        )
    ticket.refresh_from_db()
    return ticket


def receive_inbound(*, conn: PsaConnection, headers: dict[str, str], raw: bytes) -> list[PsaTicket]:
    """A PSA's webhook or callback: verified with the connection's secret, then applied.
    Raises InboundRefused (nothing changes) when it is unsigned, badly signed or not JSON."""
    if not conn.is_active:
        raise InboundRefused("This connection is switched off.", 403)
    lowered = {k.lower(): v for k, v in headers.items()}
    if not any(h in lowered for h in ("x-content-signature", "x-hook-signature", "authorization")):
        raise InboundRefused("The call is not signed.", 401)
    if not psa_vendors.verify_inbound(conn, lowered, raw):
        raise InboundRefused("The signature does not match.", 403)
    try:
        body = json.loads(raw)
        remotes = psa_vendors.parse_inbound(conn, body)
    except (ValueError, TypeError, KeyError) as exc:
        raise InboundRefused(f"Not a ticket notification: {exc}", 400) from exc
    with transaction.atomic():
        return [t for r in remotes if (t := apply_remote(conn, r, via="webhook")) is not None]


# --------------------------------------------------------------------------- subscribers


def _ticket_queued(event: Any) -> None:
    ticket = PsaTicket.objects.filter(uuid=event.subject_id).first()
    if ticket is not None and ticket.connection_id is None:
        queue_create(ticket)


def _exception_requested(event: Any) -> None:
    conn = active_connection()
    if conn is None or not conn.tickets_for_exceptions:
        return
    from .services import open_ticket

    payload = event.payload
    open_ticket(
        category=TicketCategory.EXCEPTION,
        summary=f"Exception requested: {payload.get('kind', '')} "
        f"{payload.get('ticket_reference', '')}",
        description=f"Approver: {payload.get('approver', '')}\n"
        f"Expires: {payload.get('expires_at', '')}",
        priority=TicketPriority.MEDIUM,
        related={"exception": event.subject_id},
        at=event.occurred_at,
    )


def _finding_overdue(event: Any) -> None:
    """``finding.overdue`` (the SLA watch; payload: patch, hostname, tier, due_at…)."""
    conn = active_connection()
    if conn is None or not conn.tickets_for_overdue:
        return
    payload = event.payload
    severity = str(payload.get("tier") or payload.get("severity") or "").lower()
    if SEVERITY_RANK.get(severity, 0) < SEVERITY_RANK[conn.overdue_min_severity]:
        return
    finding = str(payload.get("finding") or event.subject_id)
    if _open_tickets("finding", finding).exists():
        return
    from .services import open_ticket

    priority = severity if severity in TicketPriority.values else TicketPriority.HIGH
    patch, host = payload.get("patch", ""), payload.get("hostname", "")
    open_ticket(
        category=TicketCategory.PATCHING,
        summary=f"Overdue {severity} patch {patch} on {host}".strip(),
        description=f"{patch} on {host} passed its SLA due time {payload.get('due_at', '')}.",
        priority=priority,
        related={"finding": finding, "asset": payload.get("asset")},
        at=event.occurred_at,
    )


def on_event(event: Any) -> None:
    """React to one appended event (inside its transaction; rows only, no network)."""
    kind, subject = event.kind, str(event.subject_id)
    if kind == "ticket.queued":
        _ticket_queued(event)
    elif kind == "exception.requested":
        _exception_requested(event)
    elif kind == "exception.submitted":
        note_subject(
            subject_type="exception",
            subject_id=subject,
            text="The exception is submitted for sign-off.",
            key=f"event:{event.sequence}",
        )
    elif kind in ("exception.signed", "exception.rejected"):
        verb = "signed" if kind == "exception.signed" else "rejected"
        close_subject(
            subject_type="exception",
            subject_id=subject,
            reason=f"The exception was {verb}.",
            key=f"event:{event.sequence}",
            at=event.occurred_at,
            resolved_by=event.actor,
        )
    elif kind == "finding.overdue":
        _finding_overdue(event)
    elif kind == "finding.verified":
        close_subject(
            subject_type="finding",
            subject_id=subject,
            reason="The finding is verified fixed.",
            key=f"event:{event.sequence}",
            at=event.occurred_at,
            resolved_by=event.actor,
        )
    elif kind == "rollout.halted":
        note_subject(
            subject_type="rollout",
            subject_id=subject,
            text=f"The rollout halted again: {event.payload.get('reason', '')}",
            key=f"event:{event.sequence}",
        )
    elif kind in ("rollout.resumed", "rollout.completed"):
        verb = "resumed" if kind == "rollout.resumed" else "completed"
        close_subject(
            subject_type="rollout",
            subject_id=subject,
            reason=f"The rollout {verb}; it has recovered.",
            key=f"event:{event.sequence}",
            at=event.occurred_at,
            resolved_by=event.actor,
        )


SUBSCRIBED_KINDS = [
    "ticket.queued",
    "exception.requested",
    "exception.submitted",
    "exception.signed",
    "exception.rejected",
    "finding.overdue",
    "finding.verified",
    "rollout.halted",
    "rollout.resumed",
    "rollout.completed",
]


def psa_messages():
    """Every call to a PSA, newest first."""
    return (
        OutboxMessage.objects.filter(kind__in=PsaKind.values)
        .select_related("psa_ticket", "psa_connection")
        .order_by("-created_at", "-pk")
    )


def dead_ticket_messages():
    """The PSA calls given up, newest first (the PSA page lists them with a retry button)."""
    return psa_messages().filter(state=DeliveryState.DEAD)
