"""Write side of the evidence log. Every app records its state changes through ``record_event``.

Only declared kinds are recorded (``evidence.contract``): an undeclared kind, another subject
type or a payload that does not fit its declaration raises ``EventContractError`` and nothing is
written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from common.bulkinsert import insert_instances
from tenants.models import Client, EvidenceCheckpoint

from . import contract, subscribers
from .contract import EventContractError
from .models import GENESIS_HASH, EvidenceEvent, canonical_json
from .selectors import chain_head

__all__ = ["record_event", "record_events", "actor_label", "EventContractError"]

# One advisory lock key per schema serialises appends, so the chain never forks.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':evidence'))"


def actor_label(actor: Any) -> str:
    """A stable, human-readable actor: user e-mail, ``token:<name>``, or the given string."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    email = getattr(actor, "email", None)
    if email:
        return email
    name = getattr(actor, "name", None)
    if name:
        return f"token:{name}"
    return str(actor)


def _checked_payload(kind: str, subject_type: str, payload: dict[str, Any] | None) -> dict:
    """The payload as it will be stored, after checking it against the kind's declaration."""
    if payload is not None and not isinstance(payload, dict):
        raise EventContractError(f"{kind}: a payload is an object.")
    stored = json.loads(canonical_json(payload or {}))
    contract.validate(kind=kind, subject_type=subject_type, payload=stored)
    return stored


def record_event(
    *,
    kind: str,
    subject_type: str,
    subject_id: Any,
    actor: Any = None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> EvidenceEvent:
    """Append one event to the current client's chain (call inside the client's schema).

    Runs in the caller's transaction: the event exists exactly when the change it records does.
    Raises ``EventContractError`` (nothing recorded) when the event does not fit the contract.
    """
    stored = _checked_payload(kind, subject_type, payload)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL)
        last = EvidenceEvent.objects.order_by("-sequence").only("sequence", "hash").first()
        event = EvidenceEvent(
            sequence=(last.sequence + 1) if last else 1,
            occurred_at=(occurred_at or timezone.now()).astimezone(UTC),
            kind=kind,
            actor=actor_label(actor),
            subject_type=subject_type,
            subject_id=str(subject_id),
            payload=stored,
            prev_hash=last.hash if last else GENESIS_HASH,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
        subscribers.notify([event])
    return event


def record_events(events: list[dict[str, Any]]) -> list[EvidenceEvent]:
    """Append several events in order with one lock and one insert (for batches: ingest).

    Each item takes ``record_event``'s keyword arguments. Same chain, same guarantees.
    """
    if not events:
        return []
    payloads = [_checked_payload(e["kind"], e["subject_type"], e.get("payload")) for e in events]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL)
        last = EvidenceEvent.objects.order_by("-sequence").only("sequence", "hash").first()
        sequence = last.sequence if last else 0
        prev_hash = last.hash if last else GENESIS_HASH
        rows: list[EvidenceEvent] = []
        now = timezone.now()
        for e, stored in zip(events, payloads, strict=True):
            sequence += 1
            event = EvidenceEvent(
                sequence=sequence,
                occurred_at=(e.get("occurred_at") or now).astimezone(UTC),
                kind=e["kind"],
                actor=actor_label(e.get("actor")),
                subject_type=e["subject_type"],
                subject_id=str(e["subject_id"]),
                payload=stored,
                prev_hash=prev_hash,
            )
            event.hash = event.compute_hash()
            prev_hash = event.hash
            rows.append(event)
        insert_instances(rows)
        subscribers.notify(rows)
    return rows


def witness_chain_head(*, source: str, reference: Any = None) -> EvidenceCheckpoint | None:
    """Record the current client's chain head in the public schema (see ``EvidenceCheckpoint``);
    call inside the transaction that stores what witnessed it."""
    head = chain_head()
    if head is None:
        return None
    client = Client.objects.get(schema_name=connection.schema_name)
    return EvidenceCheckpoint.objects.create(
        client=client,
        sequence=head.sequence,
        hash=head.hash,
        recorded_at=timezone.now(),
        source=source[:200],
        reference=reference,
    )
