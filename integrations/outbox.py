"""The outbox: every outbound call PatchOps makes leaves through it.

A change that must tell another system (an RMM webhook today) calls ``enqueue`` inside its own
transaction. The message is a row (``OutboxMessage``); when the transaction commits, a Celery task
is queued for it (``integrations.deliver_outbox_message``). Nothing is sent when the transaction
rolls back, and no request or transaction ever waits on the other server.

States: ``pending`` (queued) → ``delivering`` (an attempt is under way) → ``delivered``, or
``failed_retrying`` (the task retries with exponential backoff and jitter) → … → ``dead`` after the
message's last attempt. A network error, a timeout and HTTP 408/409/425/429/5xx are retried; any
other answer is a refusal that no retry will change (dead at once). A dead message can be sent
again by a person (``retry_message``). The same logical message queued twice (same idempotency
key) is one row and one delivery; the key is sent as the ``Idempotency-Key`` header so the
receiver can drop a repeat of an attempt whose answer was lost.

Each kind registers a ``Sender`` (``register``): it builds the HTTP request from the row and
reacts when the message is delivered or dead. The beat's sweep (``requeue_stale``) queues again
the messages whose task was lost (a broker restart, a worker killed mid-attempt).

A message may name another it comes ``after`` (the calls about one PSA ticket: its note and its
closing wait for its creation): it is not attempted, and spends no attempt, until that one is
delivered; the delivery of the first queues the ones waiting for it. A Sender that sets
``reads_response = True`` gets the answer's body as ``delivered(message, at, response=body)``
(e.g. the id the PSA gave a created ticket); the first characters of every answer are kept on the
message (``response_body``).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from common.limits import TEXT_MAX_LENGTH
from evidence.services import record_event

from .choices import DeliveryState
from .models import OutboxMessage

__all__ = [
    "DELIVER_TASK",
    "IDEMPOTENCY_HEADER",
    "OutboundRequest",
    "PermanentDeliveryError",
    "RETRYABLE_STATUSES",
    "Sender",
    "TransientDeliveryError",
    "deliver",
    "enqueue",
    "fetch",
    "give_up",
    "queue_delivery",
    "register",
    "requeue_stale",
    "retry_message",
    "retry_refusal",
    "schedule_next_attempt",
    "stale_messages",
]

DELIVER_TASK = "integrations.deliver_outbox_message"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Answers that say "try again later"; every other non-2xx answer is a refusal.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
# A retry may run this early (clocks of two workers differ a little).
CLOCK_SLACK = timedelta(seconds=2)
S = DeliveryState
log = logging.getLogger(__name__)


class TransientDeliveryError(Exception):
    """The call did not get through but may on a later attempt (network, timeout, 5xx, 429)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermanentDeliveryError(Exception):
    """The call was refused, or cannot be made at all; retrying will not change that."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


RESPONSE_KEPT_CHARS = 2000
# The most of an answer read (a PSA's ticket list page); the rest is dropped.
RESPONSE_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class OutboundRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    method: str = "POST"


class Sender(Protocol):
    """How one kind of message is sent and what its outcome changes."""

    def request(self, message: OutboxMessage) -> OutboundRequest:
        """The HTTP request for ``message`` (raise PermanentDeliveryError when it cannot be
        made, e.g. its endpoint was removed)."""

    def delivered(self, message: OutboxMessage, at: datetime) -> None:
        """The receiver accepted the message (runs in the transaction that marks it)."""

    def dead(self, message: OutboxMessage, at: datetime) -> None:
        """The message was given up (runs in the transaction that marks it)."""

    def refuse_retry(self, message: OutboxMessage) -> str | None:
        """Why a dead message may not be sent again, or None when it may."""


SENDERS: dict[str, Sender] = {}


def register(kind: str, sender: Sender) -> None:
    SENDERS[kind] = sender


def _sender(kind: str) -> Sender:
    try:
        return SENDERS[kind]
    except KeyError:
        raise PermanentDeliveryError(f"No sender for messages of kind {kind!r}.") from None


# --------------------------------------------------------------------------- write side


def enqueue(
    *,
    kind: str,
    event: str,
    target: str,
    payload: dict[str, Any],
    idempotency_key: str,
    subject_type: str = "",
    subject_id: str = "",
    max_attempts: int | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> tuple[OutboxMessage, bool]:
    """Write a message to the outbox in the caller's transaction; its delivery is queued when
    that transaction commits. Returns (message, created): a message whose idempotency key is
    already in the outbox is that row, queued once."""
    at = at or timezone.now()
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationError({"idempotency_key": "Give a key of 1 to 200 characters."})
    body = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    with transaction.atomic():
        message, created = OutboxMessage.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "kind": kind,
                "event": event,
                "target": target[:1000],
                "payload": body,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "max_attempts": max_attempts or settings.OUTBOX_MAX_ATTEMPTS,
                "created_at": at,
                "updated_at": at,
                **fields,
            },
        )
        if created:
            queue_delivery(message)
    return message, created


def queue_delivery(message: OutboxMessage) -> None:
    """Queue the delivery task once the current transaction commits (at once without one). The
    task runs in the schema of the client the message belongs to. A broker that cannot be
    reached is logged, never raised into the committed change: the sweep queues it later."""
    schema = connection.schema_name
    pk = message.pk
    transaction.on_commit(lambda: _send_task(pk, schema), robust=True)


def _send_task(pk: int, schema: str) -> None:
    # No publish retries: with the broker down this fails at once (the sweep sends it later)
    # instead of holding up the request that made the change.
    options: dict[str, Any] = {"headers": {"_schema_name": schema}, "retry": False}
    if settings.OUTBOX_QUEUE:
        options["queue"] = settings.OUTBOX_QUEUE
    current_app.send_task(DELIVER_TASK, args=[pk], **options)


def retry_refusal(message: OutboxMessage) -> str | None:
    """Why ``message`` may not be sent again by hand, or None when it may."""
    if message.state != S.DEAD:
        state = message.get_state_display().lower()
        return f"Only a call that was given up is sent again; this one is {state}."
    sender = SENDERS.get(message.kind)
    return sender.refuse_retry(message) if sender is not None else "Nothing sends this kind."


def retry_message(
    *, message: OutboxMessage, actor: Any, at: datetime | None = None
) -> OutboxMessage:
    """Send a dead message again (a person decides): it gets its full number of attempts."""
    at = at or timezone.now()
    reason = retry_refusal(message)
    if reason:
        raise ValidationError({"detail": reason})
    label = getattr(actor, "email", None) or str(actor)
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, state=S.DEAD).update(
            state=S.PENDING,
            attempts=0,
            next_attempt_at=None,
            retried_at=at,
            retried_by=label[:254],
            updated_at=at,
        )
        if not updated:
            raise ValidationError({"detail": "This message changed meanwhile; reload the page."})
        record_event(
            kind="delivery.retried",
            subject_type="outbox_message",
            subject_id=message.uuid,
            actor=actor,
            payload={
                "event": message.event,
                "target": message.target,
                "idempotency_key": message.idempotency_key,
                "last_error": message.last_error[:500],
            },
            occurred_at=at,
        )
        queue_delivery(message)
    message.refresh_from_db()
    return message


# --------------------------------------------------------------------------- delivery


def _post(request: OutboundRequest) -> int:
    """Send the request; the status of a 2xx answer, else a delivery error."""
    return _call(request)[0]


def _call(request: OutboundRequest) -> tuple[int, bytes]:
    """Send the request (its ``method``); status and body of a 2xx answer, else a delivery
    error."""
    data = request.body if request.method not in ("GET", "HEAD") else None
    http = urllib.request.Request(
        request.url, data=data, headers=request.headers, method=request.method
    )
    body = b""
    try:
        with urllib.request.urlopen(http, timeout=request.timeout) as response:  # noqa: S310
            status = response.status
            body = response.read(RESPONSE_MAX_BYTES)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TransientDeliveryError(str(getattr(exc, "reason", None) or exc)) from exc
    if 200 <= status < 300:
        return status, body
    if status >= 500 or status in RETRYABLE_STATUSES:
        raise TransientDeliveryError(f"HTTP {status}", status=status)
    raise PermanentDeliveryError(f"HTTP {status} (refused)", status=status)


def fetch(request: OutboundRequest) -> tuple[int, bytes]:
    """One call a Sender makes while building its request (e.g. an OAuth2 token): the same
    transport and the same errors as the delivery itself."""
    return _call(request)


_READY = Q(after__isnull=True) | Q(after__state=S.DELIVERED)


def _claim(pk: int, now: datetime) -> bool:
    """Take a due message for one attempt (one worker at a time: a conditional update); one
    that waits for another's delivery is not taken."""
    return bool(
        OutboxMessage.objects.filter(pk=pk, state__in=[S.PENDING, S.FAILED_RETRYING])
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + CLOCK_SLACK))
        .filter(_READY)
        .update(state=S.DELIVERING, attempts=F("attempts") + 1, last_attempt_at=now, updated_at=now)
    )


def deliver(*, message_id: int) -> dict[str, Any]:
    """One delivery attempt of a message that is due (outside any transaction: the call goes
    out while no lock is held). Raises TransientDeliveryError when another attempt should follow;
    the message is then ``failed_retrying``. Returns the message's state otherwise."""
    now = timezone.now()
    if not _claim(message_id, now):
        row = OutboxMessage.objects.filter(pk=message_id).values("state", "after__state").first()
        if row and row["state"] in (S.PENDING, S.FAILED_RETRYING) and row["after__state"]:
            return {"message": message_id, "skipped": "waiting"}
        return {"message": message_id, "skipped": row["state"] if row else "missing"}
    message = OutboxMessage.objects.get(pk=message_id)
    attempt = message.attempts
    try:
        request = _sender(message.kind).request(message)
        status, body = _call(request)
    except PermanentDeliveryError as exc:
        _give_up(message, str(exc), exc.status)
        return {"message": message_id, "state": S.DEAD}
    except TransientDeliveryError as exc:
        if attempt >= message.max_attempts:
            _give_up(message, str(exc), exc.status)
            return {"message": message_id, "state": S.DEAD}
        OutboxMessage.objects.filter(pk=message.pk, state=S.DELIVERING).update(
            state=S.FAILED_RETRYING,
            last_error=str(exc)[:TEXT_MAX_LENGTH],
            response_status=exc.status,
            updated_at=timezone.now(),
        )
        raise
    at = timezone.now()
    marked = OutboxMessage.objects.filter(pk=message.pk, state=S.DELIVERING).update(
        state=S.DELIVERED,
        delivered_at=at,
        response_status=status,
        response_body=body[:RESPONSE_KEPT_CHARS].decode("utf-8", "replace"),
        last_error="",
        next_attempt_at=None,
        updated_at=at,
    )
    if marked:
        message.refresh_from_db()
        _after(message, at, delivered=True, response=body)
        with transaction.atomic():
            for follower in OutboxMessage.objects.filter(
                after=message, state__in=[S.PENDING, S.FAILED_RETRYING]
            ):
                queue_delivery(follower)
    return {"message": message_id, "state": S.DELIVERED, "status": status}


def _after(message: OutboxMessage, at: datetime, *, delivered: bool, response: bytes = b"") -> None:
    """What the outcome changes elsewhere (a confirmed snapshot, a failed rollback, the id of a
    created PSA ticket). The message's own state stands whatever happens here: a failure is
    logged."""
    sender = SENDERS.get(message.kind)
    if sender is None:
        return
    try:
        with transaction.atomic():
            if not delivered:
                sender.dead(message, at)
            elif getattr(sender, "reads_response", False):
                sender.delivered(message, at, response=response)
            else:
                sender.delivered(message, at)
    except Exception:  # noqa: BLE001 - the delivery itself is recorded; report and go on
        log.exception("outbox message %s (%s): the follow-up failed", message.uuid, message.event)


def _give_up(message: OutboxMessage, error: str, status: int | None) -> None:
    at = timezone.now()
    marked = (
        OutboxMessage.objects.filter(pk=message.pk)
        .exclude(state__in=[S.DELIVERED, S.DEAD])
        .update(
            state=S.DEAD,
            last_error=error[:TEXT_MAX_LENGTH],
            response_status=status,
            next_attempt_at=None,
            updated_at=at,
        )
    )
    if marked:
        message.refresh_from_db()
        log.warning("outbox message %s (%s) is dead: %s", message.uuid, message.event, error)
        _after(message, at, delivered=False)


def give_up(*, message_id: int, error: str) -> None:
    """Mark a message dead after an unexpected failure of its delivery task."""
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is not None:
        _give_up(message, error, None)


def schedule_next_attempt(*, message_id: int, countdown: float) -> None:
    """Record when the next attempt of a retrying message runs (the task's backoff)."""
    at = timezone.now() + timedelta(seconds=countdown)
    OutboxMessage.objects.filter(pk=message_id, state=S.FAILED_RETRYING).update(next_attempt_at=at)


# --------------------------------------------------------------------------- the sweep


def stale_messages(*, at: datetime | None = None):
    """Messages that should be on their way but whose task seems lost: pending for longer than
    the grace period, retrying long past their next attempt, or stuck mid-attempt for longer
    than any attempt can take."""
    at = at or timezone.now()
    grace = timedelta(seconds=settings.OUTBOX_STALE_AFTER_SECONDS)
    stuck = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + grace
    return OutboxMessage.objects.filter(
        Q(state=S.PENDING, updated_at__lt=at - grace)
        | Q(state=S.FAILED_RETRYING, next_attempt_at__lt=at - grace)
        | Q(state=S.FAILED_RETRYING, next_attempt_at__isnull=True, updated_at__lt=at - grace)
        | Q(state=S.DELIVERING, last_attempt_at__lt=at - stuck)
    ).filter(_READY | Q(state=S.DELIVERING))


def requeue_stale(*, at: datetime | None = None) -> dict[str, int]:
    """Queue the delivery of every stale message again (the current client's schema)."""
    at = at or timezone.now()
    requeued = dead = 0
    for message in stale_messages(at=at).order_by("pk")[:500]:
        if message.state == S.DELIVERING and message.attempts >= message.max_attempts:
            _give_up(message, "The last attempt was interrupted.", message.response_status)
            dead += 1
            continue
        # Claimed only if nobody touched it since it was read (one sweep requeues it once).
        claimed = OutboxMessage.objects.filter(
            pk=message.pk, state=message.state, updated_at=message.updated_at
        ).update(
            state=S.FAILED_RETRYING if message.state == S.DELIVERING else message.state,
            next_attempt_at=None,
            updated_at=at,
        )
        if claimed:
            _send_task(message.pk, connection.schema_name)
            requeued += 1
    return {"requeued": requeued, "dead": dead}
