"""Who is told what, and how: notifications made from evidence events, sent by e-mail at once
or in a daily digest, and the engineer alerts posted to the MSP's chat channels.

``on_event`` runs inside the transaction that appends an event (``evidence.subscribers``): it
writes one ``Notification`` per recipient (its idempotency key is the user, the event and the
channel, so an event handed over twice is still one row) and queues the e-mail when that
transaction commits. ``send_notification`` claims the row before sending (pending → sending),
so a retried or duplicated task never sends twice.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.emails import send_templated
from exceptions_register.models import RiskException
from rings.choices import ApproverRole, WaveState
from rings.models import Rollout, Wave
from rings.services import required_approver
from tenants.choices import MembershipRole, StaffRole
from tenants.models import Client, User
from tenants.permissions import Capability, has_capability

from . import chat
from .choices import ENGINEER_ALERTS, Delivery, NotificationKind, NotificationState
from .models import ChatWebhook, Notification, NotificationPreference, NotificationSettings

__all__ = [
    "HANDLED_KINDS",
    "SEND_TASK",
    "Message",
    "on_event",
    "notify",
    "delivery_for",
    "preferences_of",
    "save_preferences",
    "remove_chat_webhook",
    "settings_of",
    "digest_time_of",
    "send_notification",
    "send_due_digests",
    "send_digest",
    "compliance_recorded",
    "absolute_url",
]

SEND_TASK = "notifications.send_notification"
K = NotificationKind
S = NotificationState
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """What a notification says: a title, a few lines and the page it links to (a path)."""

    kind: str
    title: str
    path: str
    lines: list[str] = field(default_factory=list)


def absolute_url(path: str) -> str:
    """``path`` on the portal (``PORTAL_URL``): mail is read outside any request."""
    return settings.PORTAL_URL.rstrip("/") + path


# --------------------------------------------------------------------------- recipients


def _seeing(users: QuerySet[User], client: Client) -> list[User]:
    """The active users of ``users`` whose role lets them see ``client``."""
    return [u for u in users.filter(is_active=True) if has_capability(u, client, Capability.VIEW)]


def client_owners(client: Client) -> list[User]:
    return _seeing(
        User.objects.filter(
            memberships__client=client, memberships__role=MembershipRole.CLIENT_OWNER
        ).distinct(),
        client,
    )


def engineers(client: Client) -> list[User]:
    return _seeing(User.objects.filter(staff_role=StaffRole.ENGINEER), client)


def account_managers(client: Client) -> list[User]:
    return _seeing(client.account_managers.all(), client)


# --------------------------------------------------------------------------- from events


def _base(client: Client) -> str:
    return f"/clients/{client.slug}/"


def _exception_submitted(event: Any, client: Client) -> list[tuple[Message, list[User]]]:
    exception = (
        RiskException.objects.select_related("approver").filter(uuid=event.subject_id).first()
    )
    if exception is None or exception.approver is None:
        return []
    approver = exception.approver
    if not has_capability(approver, client, Capability.SIGN):
        return []
    message = Message(
        K.EXCEPTION_AWAITING_SIGNATURE,
        f"{client.name}: exception {exception.ticket_reference} awaits your signature",
        f"{_base(client)}portal/exceptions/{exception.uuid}/",
        [
            f"{exception.get_kind_display()} requested by {exception.requested_by_label}.",
            f"Reason: {exception.reason}",
            f"Expires: {timezone.localtime(exception.expires_at, client.tz):%Y-%m-%d %H:%M %Z}",
        ],
    )
    return [(message, [approver])]


def _wave_awaiting(event: Any, client: Client) -> list[tuple[Message, list[User]]]:
    wave = Wave.objects.select_related("ring", "rollout").filter(uuid=event.subject_id).first()
    if wave is None or required_approver(wave) != ApproverRole.CLIENT_OWNER:
        return []
    message = Message(
        K.WAVE_AWAITING_APPROVAL,
        f"{client.name}: {wave.ring.name} wave of {wave.rollout.name} awaits your approval",
        f"{_base(client)}rollouts/{wave.rollout.uuid}/",
        [f"{event.payload.get('assets', 0)} device(s) in the {wave.ring.name} ring."],
    )
    return [(message, client_owners(client))]


# The reports app sits above this one (it may not be imported): its kinds as the event names them.
REPORT_LABELS = {
    "monthly": "Monthly compliance report",
    "hipaa": "HIPAA-aligned evidence pack",
    "qbr": "QBR executive summary",
    "inventory": "Inventory snapshot",
}


def _report_generated(event: Any, client: Client) -> list[tuple[Message, list[User]]]:
    kind = event.payload.get("kind", "")
    label = REPORT_LABELS.get(kind, f"{kind} report")
    period = event.payload.get("period", "")
    path = f"{_base(client)}reports/"
    lines = [f"Version {event.payload.get('version')} of {label} for {period} is stored."]
    out = [
        (
            Message(K.REPORT_GENERATED, f"{client.name}: {label} {period} generated", path, lines),
            account_managers(client),
        )
    ]
    if kind == "monthly":
        title = f"{client.name}: your monthly report for {period} is ready"
        out.append((Message(K.MONTHLY_REPORT_READY, title, path, lines), client_owners(client)))
    return out


def _rollout_halted(event: Any, client: Client) -> list[tuple[Message, list[User]]]:
    rollout = Rollout.objects.filter(uuid=event.subject_id).first()
    if rollout is None:
        return []
    wave = (
        rollout.waves.select_related("ring")
        .filter(state=WaveState.HALTED)
        .order_by("-halted_at", "-pk")
        .first()
    )
    rate = wave.breach_rate() if wave is not None else None
    breach = rate is not None and rate > wave.ring.failure_threshold_pct
    reason = event.payload.get("reason", "")
    if breach:
        kind = K.ROLLOUT_BREACH
        title = f"{client.name}: failure-rate breach halted {rollout.name}"
    else:
        kind = K.ROLLOUT_HALTED
        title = f"{client.name}: rollout {rollout.name} halted"
    lines = [reason] if reason else []
    if event.payload.get("cancelled_jobs"):
        lines.append(f"{event.payload['cancelled_jobs']} queued job(s) cancelled.")
    message = Message(kind, title, f"{_base(client)}rollouts/{rollout.uuid}/", lines)
    return [(message, engineers(client))]


def _finding_sla(event: Any, client: Client) -> list[tuple[Message, list[User]]]:
    """The SLA watch's announcement of a critical finding (other tiers are not alerts)."""
    p = event.payload
    if p.get("tier") != "critical":
        return []
    overdue = event.kind == "finding.overdue"
    due = timezone.localtime(datetime.fromisoformat(p["due_at"]), client.tz)
    what = f"{p['patch']} on {p['hostname']}"
    kev = " (known exploited)" if p.get("kev") else ""
    if overdue:
        kind, title = K.FINDING_OVERDUE, f"{client.name}: {what} is past its SLA"
        lines = [f"Critical finding{kev}, due {due:%Y-%m-%d %H:%M %Z}, still {p['state']}."]
    else:
        kind, title = K.FINDING_DUE_SOON, f"{client.name}: {what} is about to breach its SLA"
        left = p.get("hours_left")
        lines = [f"Critical finding{kev}, due {due:%Y-%m-%d %H:%M %Z} ({left} h left)."]
    message = Message(kind, title, f"{_base(client)}findings/{event.subject_id}/", lines)
    return [(message, engineers(client))]


def _assets_stale(event: Any, client: Client) -> list[tuple[Message, list[User]]]:
    hostnames = list(event.payload.get("hostnames", []))
    count = event.payload.get("count", len(hostnames))
    days = event.payload.get("stale_after_days")
    shown = ", ".join(hostnames[:20]) + (" …" if len(hostnames) > 20 else "")
    message = Message(
        K.ASSETS_STALE,
        f"{client.name}: {count} asset(s) stopped reporting",
        f"{_base(client)}assets/",
        [f"Not seen for {days} days: {shown}."],
    )
    return [(message, engineers(client))]


Producer = Callable[[Any, Client], list[tuple[Message, list[User]]]]
# What each event kind tells, and whether it is told once per subject (a wave awaits approval
# once), per due time (a finding re-dated is announced again) or once per event (a rollout may
# be halted, resumed and halted again).
PRODUCERS: dict[str, tuple[Producer, str]] = {
    "exception.submitted": (_exception_submitted, "subject"),
    "wave.awaiting": (_wave_awaiting, "subject"),
    "report.generated": (_report_generated, "subject"),
    "rollout.halted": (_rollout_halted, "event"),
    "finding.due_soon": (_finding_sla, "due"),
    "finding.overdue": (_finding_sla, "due"),
    "asset.stale": (_assets_stale, "event"),
}
HANDLED_KINDS = frozenset(PRODUCERS)


def on_event(event: Any) -> None:
    """Subscriber of ``evidence.subscribers``: the notifications of one appended event."""
    client = getattr(connection, "tenant", None)
    if not isinstance(client, Client):  # a schema set by name only (schema_context)
        client = Client.objects.filter(schema_name=connection.schema_name).first()
    if client is None or client.is_public:
        return
    producer, scope = PRODUCERS[event.kind]
    if scope == "subject":
        basis = event.subject_id
    elif scope == "due":
        basis = f"{event.subject_id}:{event.payload.get('due_at', '')}"
    else:
        basis = str(event.uuid)
    for message, users in producer(event, client):
        notify(
            message=message,
            client=client,
            users=users,
            key=f"{client.schema_name}:{event.kind}:{basis}",
            event_uuid=event.uuid,
        )


# --------------------------------------------------------------------------- write side


def delivery_for(user: User, kind: str) -> str:
    """How ``user`` wants ``kind`` (immediately unless they chose otherwise)."""
    chosen = (
        NotificationPreference.objects.filter(user=user, kind=kind)
        .values_list("delivery", flat=True)
        .first()
    )
    return chosen or Delivery.IMMEDIATE


def notify(
    *,
    message: Message,
    client: Client | None,
    users: Iterable[User],
    key: str,
    event_uuid: Any = None,
    at: datetime | None = None,
) -> list[Notification]:
    """Write the notifications of ``message`` (one per user who has not turned its kind off)
    and queue the immediate ones' e-mail on commit; engineer alerts also go to the chat
    channels. A key seen before is the row already there (nothing is queued again)."""
    at = at or timezone.now()
    made = []
    for user in {u.pk: u for u in users}.values():
        delivery = delivery_for(user, message.kind)
        if delivery == Delivery.OFF:
            continue
        notification, created = Notification.objects.get_or_create(
            idempotency_key=f"{user.pk}:{key}:email"[:200],
            defaults={
                "user": user,
                "client": client,
                "kind": message.kind,
                "delivery": delivery,
                "event_uuid": event_uuid,
                "title": message.title[:250],
                "lines": list(message.lines),
                "url": absolute_url(message.path)[:1000],
                "created_at": at,
            },
        )
        if not created:
            continue
        made.append(notification)
        if delivery == Delivery.IMMEDIATE:
            _queue_send(notification.pk)
        else:
            settings_of(user)
    if message.kind in ENGINEER_ALERTS and client is not None:
        chat.post_alert(
            kind=message.kind,
            client=client,
            title=message.title,
            lines=message.lines,
            url=absolute_url(message.path),
            key=key,
        )
    return made


def _queue_send(pk: int) -> None:
    def send() -> None:
        current_app.send_task(SEND_TASK, args=[pk], retry=False)

    # A broker that cannot be reached is logged, never raised into the committed change.
    transaction.on_commit(send, robust=True)


# --------------------------------------------------------------------------- sending


def _context(notification: Notification) -> dict[str, Any]:
    return {
        "notification": notification,
        "client": notification.client,
        "user": notification.user,
        "url": notification.url,
        "preferences_url": absolute_url("/accounts/notifications/"),
    }


def send_notification(notification_id: int) -> str:
    """Send one immediate notification, once: the row is claimed (pending → sending) before the
    mail goes out, so a second run of the task finds nothing to do. A failed send puts the row
    back to pending and raises (the task retries)."""
    claimed = Notification.objects.filter(
        pk=notification_id, state=S.PENDING, delivery=Delivery.IMMEDIATE
    ).update(state=S.SENDING)
    if not claimed:
        state = Notification.objects.filter(pk=notification_id).values_list("state", flat=True)
        return f"skipped ({state.first() or 'missing'})"
    notification = Notification.objects.select_related("user", "client").get(pk=notification_id)
    try:
        send_templated(
            template="notifications/emails/notification",
            to=[notification.user.email],
            context=_context(notification),
        )
    except Exception:
        Notification.objects.filter(pk=notification_id, state=S.SENDING).update(state=S.PENDING)
        raise
    Notification.objects.filter(pk=notification_id).update(state=S.SENT, sent_at=timezone.now())
    return S.SENT


# --------------------------------------------------------------------------- preferences


def settings_of(user: User) -> NotificationSettings:
    """The user's digest settings (the configured defaults until they change them)."""
    row, _ = NotificationSettings.objects.get_or_create(
        user=user,
        defaults={
            "digest_hour": settings.NOTIFICATIONS_DIGEST_HOUR,
            "time_zone": settings.NOTIFICATIONS_DIGEST_TIME_ZONE,
        },
    )
    return row


def digest_time_of(user: User) -> tuple[int, str]:
    """The local hour and time zone of the user's digest (read only)."""
    row = NotificationSettings.objects.filter(user=user).first()
    if row is None:
        return settings.NOTIFICATIONS_DIGEST_HOUR, settings.NOTIFICATIONS_DIGEST_TIME_ZONE
    return row.digest_hour, row.time_zone


def preferences_of(user: User) -> dict[str, str]:
    """Every kind → how ``user`` wants it."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    return {kind: chosen.get(kind, Delivery.IMMEDIATE) for kind in K.values}


def save_preferences(
    *, user: User, deliveries: dict[str, str], digest_hour: int, time_zone: str
) -> None:
    """Store the user's choices (validated by the caller's form) in one transaction."""
    with transaction.atomic():
        for kind, delivery in deliveries.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"delivery": delivery}
            )
        row = settings_of(user)
        row.digest_hour = digest_hour
        row.time_zone = time_zone
        row.save(update_fields=["digest_hour", "time_zone"])


def remove_chat_webhook(*, uuid: str) -> bool:
    """Remove one chat channel; False when there is none with that id (bad or stale input)."""
    try:
        value = uuid_module.UUID(str(uuid))
    except ValueError:
        return False
    deleted, _ = ChatWebhook.objects.filter(uuid=value).delete()
    return bool(deleted)


# --------------------------------------------------------------------------- the digest


def _local_day(row: NotificationSettings, at: datetime) -> tuple[int, date]:
    local = at.astimezone(ZoneInfo(row.time_zone))
    return local.hour, local.date()


def send_digest(*, user: User, at: datetime | None = None) -> int:
    """Send ``user`` one e-mail with every pending digest item and mark them sent, at most once
    per local day (the day is claimed on the settings row in the same transaction). Returns
    the number of items sent."""
    at = at or timezone.now()
    row = settings_of(user)
    _, today = _local_day(row, at)
    with transaction.atomic():
        items = list(
            Notification.objects.select_for_update(of=("self",))
            .filter(user=user, delivery=Delivery.DIGEST, state=S.PENDING)
            .select_related("client")
            .order_by("created_at", "pk")
        )
        if not items:
            return 0
        claimed = (
            NotificationSettings.objects.filter(pk=row.pk)
            .exclude(last_digest_on=today)
            .update(last_digest_on=today)
        )
        if not claimed:
            return 0
        Notification.objects.filter(pk__in=[n.pk for n in items]).update(state=S.SENT, sent_at=at)
        send_templated(
            template="notifications/emails/digest",
            to=[user.email],
            context={
                "user": user,
                "items": items,
                "day": today,
                "preferences_url": absolute_url("/accounts/notifications/"),
            },
        )
    return len(items)


def send_due_digests(*, at: datetime | None = None) -> dict[str, int]:
    """The digests due at ``at``: users whose digest hour it is in their time zone, who had
    none today and have pending items."""
    at = at or timezone.now()
    users = sent = 0
    waiting = Notification.objects.filter(delivery=Delivery.DIGEST, state=S.PENDING)
    rows = NotificationSettings.objects.filter(
        user__in=waiting.values("user"), user__is_active=True
    ).select_related("user")
    for row in rows:
        hour, today = _local_day(row, at)
        if hour != row.digest_hour or row.last_digest_on == today:
            continue
        try:
            count = send_digest(user=row.user, at=at)
        except Exception:  # noqa: BLE001 - one user's mail server error does not stop the rest
            log.exception("digest of %s failed", row.user.email)
            continue
        users += bool(count)
        sent += count
    return {"users": users, "items": sent}


# --------------------------------------------------------------------------- compliance


def compliance_recorded(
    *, client: Client, day: date, current: Decimal | None, previous: Decimal | None
) -> list[Notification]:
    """A client's scorecard of ``day`` was recorded: tell its account managers when its
    compliance is below the previous scorecard's (once per client and day)."""
    if current is None or previous is None or current >= previous:
        return []
    message = Message(
        K.COMPLIANCE_FELL,
        f"{client.name}: compliance fell from {previous} % to {current} %",
        "/scorecards/",
        [f"Scorecard of {day:%Y-%m-%d}: {current} % (previous scorecard: {previous} %)."],
    )
    return notify(
        message=message,
        client=client,
        users=account_managers(client),
        key=f"{client.schema_name}:compliance_fell:{day.isoformat()}",
    )
