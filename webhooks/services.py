"""Webhook endpoints and their deliveries.

An endpoint (an MSP's, hearing every client, or one client's) subscribes to event types of the
catalogue (``choices.WebhookEvent``). When an evidence event of a mapped kind is appended
(``evidence.subscribers``), ``on_event`` writes one outbox message per active endpoint that
hears it, in the appending transaction; the outbox sends it after commit with retries, backoff
and dead letters (``integrations.outbox``), and ``WebhookSender`` signs each attempt.

Signing: ``X-PatchOps-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`` with the
timestamp in ``X-PatchOps-Timestamp``; after a rotation the previous secret signs too (a second
``v1=``) until its grace period ends. ``X-PatchOps-Delivery`` is the delivery's id (the same on
every attempt). See ``webhooks/verify.py`` for the receiver's side.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import audit
from evidence.services import actor_label
from integrations import outbox
from integrations.models import OutboxMessage
from tenants.models import Client

from .choices import DELIVERY_KIND, SOURCE_KINDS, TEST_EVENT, WebhookEvent
from .models import WebhookEndpoint
from .payloads import envelope
from .verify import compute_signature

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "SUBJECT_TYPE",
    "TIMESTAMP_HEADER",
    "Created",
    "WebhookSender",
    "create_endpoint",
    "deliveries_of",
    "on_event",
    "retry_delivery",
    "rotate_secret",
    "send_test",
    "signature_header",
    "update_endpoint",
    "validate_events",
    "validate_url",
]

TIMESTAMP_HEADER = "X-PatchOps-Timestamp"
SIGNATURE_HEADER = "X-PatchOps-Signature"
DELIVERY_HEADER = "X-PatchOps-Delivery"
EVENT_HEADER = "X-PatchOps-Event"
SUBJECT_TYPE = "webhook_endpoint"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class Created:
    """An endpoint and its secret in clear, shown once."""

    endpoint: WebhookEndpoint
    secret: str


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --------------------------------------------------------------------------- validation


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str) -> str:
    """The URL deliveries go to: https, no credentials in it, no address on a private or
    loopback network. Plain http to this machine (127.0.0.1, ::1, localhost) only where
    ``WEBHOOK_ALLOW_LOOPBACK`` is on (development and tests)."""
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": "Give the URL PatchOps posts the events to."})
    if len(url) > 1000:
        raise ValidationError({"url": "Give a URL of at most 1000 characters."})
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError:
        raise ValidationError({"url": "This is not a URL."}) from None
    if not host or parts.scheme not in ("https", "http"):
        raise ValidationError({"url": "Give an https:// URL."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave credentials out of the URL; the signature proves "
                               "the sender."})  # fmt: skip
    loopback = _is_loopback(host)
    if loopback and not settings.WEBHOOK_ALLOW_LOOPBACK:
        raise ValidationError({"url": "This machine is no webhook receiver; give a public URL."})
    if parts.scheme == "http" and not loopback:
        raise ValidationError({"url": "Give an https:// URL: events leave signed but not "
                               "encrypted otherwise."})  # fmt: skip
    if not loopback:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and not address.is_global:
            raise ValidationError({"url": "Give a public address, not one on a private network."})
    return url


def validate_events(events: Any) -> list[str]:
    """The subscribed event types, each from the catalogue, at least one."""
    if isinstance(events, str) or not isinstance(events, list | tuple):
        raise ValidationError({"events": "Give a list of event types."})
    known = set(WebhookEvent.values)
    unknown = [str(e) for e in events if e not in known]
    if unknown:
        raise ValidationError(
            {
                "events": f"Unknown event type: {', '.join(unknown)[:200]}. "
                f"Known: {', '.join(WebhookEvent.values)}."
            }  # fmt: skip
        )
    chosen = [e for e in WebhookEvent.values if e in set(events)]
    if not chosen:
        raise ValidationError({"events": "Choose at least one event."})
    return chosen


def _description(value: Any) -> str:
    text = str(value or "").strip()
    if len(text) > 200:
        raise ValidationError({"description": "Give a description of at most 200 characters."})
    return text


# --------------------------------------------------------------------------- endpoints


def create_endpoint(
    *,
    client: Client | None,
    url: str,
    events: Any,
    description: str = "",
    is_active: bool = True,
    actor: Any = None,
    request: Any = None,
) -> Created:
    """A new endpoint (``client`` None: an MSP endpoint hearing every client) and its secret,
    shown once."""
    now = timezone.now()
    data = {
        "url": validate_url(url),
        "events": validate_events(events),
        "description": _description(description),
    }
    secret = _new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            client=client,
            is_active=bool(is_active),
            secret=secret,
            created_at=now,
            updated_at=now,
            created_by=actor_label(actor)[:254],
            **data,
        )
        audit.record(
            "webhook.created",
            actor=actor,
            client=client,
            request=request,
            target=str(endpoint.uuid),
            url=endpoint.url,
            events=endpoint.events,
        )
    return Created(endpoint=endpoint, secret=secret)


def update_endpoint(
    *, endpoint: WebhookEndpoint, data: dict[str, Any], actor: Any = None, request: Any = None
) -> WebhookEndpoint:
    """Change the URL, events, description or active flag (only the keys given)."""
    changes: dict[str, Any] = {}
    if "url" in data:
        changes["url"] = validate_url(data["url"])
    if "events" in data:
        changes["events"] = validate_events(data["events"])
    if "description" in data:
        changes["description"] = _description(data["description"])
    if "is_active" in data:
        changes["is_active"] = bool(data["is_active"])
    changed = {k: v for k, v in changes.items() if getattr(endpoint, k) != v}
    if not changed:
        return endpoint
    with transaction.atomic():
        for key, value in changed.items():
            setattr(endpoint, key, value)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=[*changed, "updated_at"])
        audit.record(
            "webhook.changed",
            actor=actor,
            client=endpoint.client,
            request=request,
            target=str(endpoint.uuid),
            changed=sorted(changed),
            url=endpoint.url,
        )
    return endpoint


def rotate_secret(
    *,
    endpoint: WebhookEndpoint,
    actor: Any = None,
    request: Any = None,
    at: datetime | None = None,
) -> Created:
    """A new secret (shown once); the one it replaces keeps signing beside it for
    ``WEBHOOK_ROTATION_GRACE_HOURS`` (a secret rotated earlier and still in its grace period
    stops signing now)."""
    at = at or timezone.now()
    secret = _new_secret()
    grace = timedelta(hours=settings.WEBHOOK_ROTATION_GRACE_HOURS)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = at + grace
        locked.secret = secret
        locked.rotated_at = at
        locked.updated_at = at
        locked.save(
            update_fields=[
                "previous_secret",
                "previous_secret_expires_at",
                "secret",
                "rotated_at",
                "updated_at",
            ]
        )
        audit.record(
            "webhook.secret_rotated",
            actor=actor,
            client=locked.client,
            request=request,
            target=str(locked.uuid),
            old_secret_until=locked.previous_secret_expires_at.isoformat(),
        )
    return Created(endpoint=locked, secret=secret)


# --------------------------------------------------------------------------- events → outbox


def _current_client() -> Client:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Client) and tenant.schema_name == connection.schema_name:
        return tenant
    return Client.objects.get(schema_name=connection.schema_name)


def endpoints_hearing(type: str, client: Client) -> QuerySet[WebhookEndpoint]:  # noqa: A002
    return WebhookEndpoint.objects.filter(is_active=True, events__contains=[type]).filter(
        Q(client__isnull=True) | Q(client_id=client.pk)
    )


def _enqueue(endpoint: WebhookEndpoint, body: dict[str, Any], key: str) -> OutboxMessage:
    message, _ = outbox.enqueue(
        kind=DELIVERY_KIND,
        event=body["type"],
        target=endpoint.url,
        payload=body,
        idempotency_key=key,
        subject_type=SUBJECT_TYPE,
        subject_id=str(endpoint.uuid),
        max_attempts=settings.WEBHOOK_MAX_ATTEMPTS,
    )
    return message


def on_event(event: Any) -> None:
    """Evidence subscriber: one outbox message per active endpoint hearing the event's type
    (runs inside the appending transaction; the deliveries are queued on commit)."""
    type_ = SOURCE_KINDS.get(event.kind)
    if type_ is None:
        return
    client = _current_client()
    endpoints = list(endpoints_hearing(type_, client))
    if not endpoints:
        return
    body = envelope(
        type=type_,
        event_id=str(event.uuid),
        created_at=event.occurred_at,
        client=client,
        subject_id=event.subject_id,
        payload=event.payload,
    )
    for endpoint in endpoints:
        _enqueue(endpoint, body, f"webhook:{endpoint.uuid}:{event.uuid}")


def send_test(*, endpoint: WebhookEndpoint, client: Client) -> OutboxMessage:
    """A ``webhook.test`` event to ``endpoint`` through the same outbox path as every other
    delivery (call in ``client``'s schema; an MSP endpoint's test is sent as one client's)."""
    if endpoint.client_id is not None and endpoint.client_id != client.pk:
        raise ValidationError({"client": "This endpoint belongs to another client."})
    if not endpoint.is_active:
        raise ValidationError({"detail": "The endpoint is paused; turn it on to send a test."})
    now = timezone.now()
    test_id = secrets.token_hex(16)
    body = envelope(
        type=TEST_EVENT,
        event_id=f"test-{test_id}",
        created_at=now,
        client=client,
        subject_id=str(endpoint.uuid),
        payload={"message": "A test delivery from PatchOps: your endpoint receives events."},
    )
    with transaction.atomic():
        return _enqueue(endpoint, body, f"webhook:{endpoint.uuid}:test:{test_id}")


# --------------------------------------------------------------------------- delivery log


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[OutboxMessage]:
    """The endpoint's deliveries in the current client's schema, newest first."""
    return OutboxMessage.objects.filter(
        kind=DELIVERY_KIND, subject_type=SUBJECT_TYPE, subject_id=str(endpoint.uuid)
    ).order_by("-created_at", "-pk")


def retry_delivery(*, endpoint: WebhookEndpoint, delivery: Any, actor: Any) -> OutboxMessage:
    """Send a dead delivery of ``endpoint`` again (same delivery id, full attempts)."""
    message = deliveries_of(endpoint).filter(uuid=delivery).first()
    if message is None:
        raise ValidationError({"detail": "No such delivery of this endpoint."})
    return outbox.retry_message(message=message, actor=actor)


# --------------------------------------------------------------------------- the sender


def signature_header(endpoint: WebhookEndpoint, timestamp: str, body: bytes, at: datetime) -> str:
    """``v1=<hex>`` per secret signing at ``at`` (new first), comma-separated."""
    return ",".join(
        f"v1={compute_signature(secret, timestamp, body)}"
        for secret in endpoint.signing_secrets(at)
    )


class WebhookSender:
    """Builds each attempt: the stored envelope as compact JSON, signed at attempt time."""

    def _endpoint(self, message: OutboxMessage) -> WebhookEndpoint | None:
        return WebhookEndpoint.objects.filter(uuid=message.subject_id).first()

    def request(self, message: OutboxMessage) -> outbox.OutboundRequest:
        endpoint = self._endpoint(message)
        if endpoint is None:
            raise outbox.PermanentDeliveryError("The webhook endpoint was removed.")
        if not endpoint.is_active and message.event != TEST_EVENT:
            raise outbox.PermanentDeliveryError("The webhook endpoint is paused.")
        try:
            url = validate_url(endpoint.url)
        except ValidationError as exc:
            raise outbox.PermanentDeliveryError(" ".join(exc.messages)) from None
        if url != message.target:  # corrected since: the call goes where it is now
            OutboxMessage.objects.filter(pk=message.pk).update(target=url)
            message.target = url
        body = json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        return outbox.OutboundRequest(
            url=url,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "PatchOps-Webhooks/1",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature_header(endpoint, timestamp, body, timezone.now()),
                DELIVERY_HEADER: str(message.uuid),
                EVENT_HEADER: message.event,
                outbox.IDEMPOTENCY_HEADER: message.idempotency_key,
            },
            timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
        )

    def delivered(self, message: OutboxMessage, at: datetime) -> None:
        """Nothing else changes: the delivery log is the message itself."""

    def dead(self, message: OutboxMessage, at: datetime) -> None:
        """Nothing else changes: the dead delivery shows in the endpoint's log."""

    def refuse_retry(self, message: OutboxMessage) -> str | None:
        endpoint = self._endpoint(message)
        if endpoint is None:
            return "The webhook endpoint of this delivery was removed."
        if not endpoint.is_active:
            return "The webhook endpoint is paused; turn it on first."
        return None
