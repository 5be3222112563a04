"""Report delivery: each new report of a subscribed kind e-mailed to the client's recipients.

The e-mail never carries the file, for any client (HIPAA or not): a report names the client's
systems and, for HIPAA clients, its ePHI systems, and an attachment cannot be recalled, expired
or audited once sent. It carries a link instead, and the link alone opens nothing:

* it is signed (``django.core.signing``, its own salt) and names one delivery, so it is good for
  that report only and cannot be forged or pointed at another;
* it expires ``REPORT_DELIVERY_LINK_DAYS`` after the e-mail was sent;
* it asks for sign-in, and only the person signed in with the address it was sent to, holding
  the reports capability in the client, is served the file (anyone else is refused, even MSP
  staff, who have the reports page); a recipient without an account is told to ask the MSP;
* each use is recorded in the evidence chain (``report.delivery_opened``) before the file is
  served, and the file is checked against its recorded SHA-256 as every download is.

How a delivery happens: ``store_report`` records ``report.generated``; :func:`on_report_generated`
(an evidence subscriber, inside that transaction) makes one ``ReportDelivery`` per subscribed
recipient and queues ``reports.deliver_report`` for each once the transaction commits. The task
calls :func:`deliver`, which holds the delivery's row lock while it hands the e-mail to the mail
server and marks it sent with its ``report.delivered`` event in the same transaction, so a task
delivered again (or twice at once) finds it sent and sends nothing. A mail server that refuses
or cannot be reached leaves the delivery ``retrying`` with the error and the task retries with
backoff; after ``REPORT_DELIVERY_MAX_ATTEMPTS`` it is ``failed`` (``report.delivery_failed``).
The one window left: a worker that dies after the mail server took the e-mail and before the
commit leaves the delivery unsent, and it is sent again (SMTP cannot be asked whether it took a
message). A delivery pending longer than ``LOST_AFTER`` had its task lost and is queued again.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from common.dependencies import REDIS_ERRORS
from common.emails import send_templated
from common.periods import format_period
from evidence.services import actor_label, record_event
from tenants.models import Client, User
from tenants.permissions import Capability, has_capability
from tenants.tiers import tier_of

from .models import DeliveryState, ReportDelivery, ReportKind, ReportRecipient, StoredReport
from .services import HIPAA_ONLY_KINDS

__all__ = [
    "RecipientInvalid",
    "LinkRefused",
    "MailFailed",
    "MAIL_ERRORS",
    "recipient_kinds",
    "add_recipient",
    "change_recipient",
    "remove_recipient",
    "on_report_generated",
    "deliver",
    "delivery_link",
    "open_link",
    "deliveries_of",
    "requeue_lost_deliveries",
    "LOST_AFTER",
]

logger = logging.getLogger(__name__)

LINK_SALT = "reports.delivery-link"
TEMPLATE = "reports/emails/report_delivery"
DELIVER_TASK = "reports.deliver_report"
# A delivery still pending this long after it was made had its task lost (a broker that was
# down when the report committed): the sweep queues it again.
LOST_AFTER = timedelta(minutes=15)
# What a mail server that refuses or cannot be reached raises.
MAIL_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError)


class RecipientInvalid(ValueError):
    """Bad recipient input: ``errors`` maps each field to its messages (nothing was saved)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(" ".join(m for messages in errors.values() for m in messages))


class LinkRefused(Exception):
    """A delivery link that does not admit this person (``status``: 403, 404 or 410)."""

    def __init__(self, message: str, status: int = 403) -> None:
        self.status = status
        super().__init__(message)


class MailFailed(Exception):
    """The mail server did not take the e-mail; the delivery keeps the error and is retried."""


# --- recipients ----------------------------------------------------------------------------


def recipient_kinds(client: Any) -> list[tuple[str, str]]:
    """The kinds a recipient of ``client`` may subscribe to, as (value, label)."""
    tier = tier_of(client)
    return [
        (value, label)
        for value, label in ReportKind.choices
        if tier.includes(value)
        and (value not in HIPAA_ONLY_KINDS or getattr(client, "is_hipaa", False))
    ]


def _clean(
    *, client: Any, name: Any, email: Any, kinds: Any, instance: ReportRecipient | None = None
) -> tuple[str, str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = ["Give the recipient's name."]
    elif len(name) > 150:
        errors["name"] = ["A name is at most 150 characters."]
    email = email.strip() if isinstance(email, str) else ""
    if not email:
        errors["email"] = ["Give the recipient's e-mail address."]
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [f"“{email[:100]}” is not a valid e-mail address."]
        else:
            same = ReportRecipient.objects.filter(email__iexact=email)
            if instance is not None:
                same = same.exclude(pk=instance.pk)
            if same.exists():
                errors["email"] = [f"{email} is already a report recipient of {client.name}."]
    allowed = dict(recipient_kinds(client))
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
        errors["kinds"] = ['Give the report kinds as a list, e.g. ["monthly", "qbr"].']
        chosen: list[str] = []
    else:
        chosen = [k for k in ReportKind.values if k in kinds]  # ReportKind order, no repeats
        unknown = sorted(set(kinds) - set(allowed))
        if unknown:
            errors["kinds"] = [
                f"Not a report kind {client.name} receives: {', '.join(unknown)}; "
                f"choose from: {', '.join(allowed)}."
            ]
        elif not chosen:
            errors["kinds"] = ["Choose at least one report kind (e.g. monthly, qbr)."]
    if errors:
        raise RecipientInvalid(errors)
    return name, email, chosen


def _recipient_payload(recipient: ReportRecipient) -> dict[str, Any]:
    return {"name": recipient.name, "email": recipient.email, "kinds": list(recipient.kinds)}


def add_recipient(*, client: Any, name: Any, email: Any, kinds: Any, actor: Any) -> ReportRecipient:
    """Add a recipient (``RecipientInvalid`` on bad input, nothing saved); recorded as
    ``report_recipient.added``."""
    name, email, kinds = _clean(client=client, name=name, email=email, kinds=kinds)
    now = timezone.now()
    with transaction.atomic():
        recipient = ReportRecipient.objects.create(
            name=name,
            email=email,
            kinds=kinds,
            created_at=now,
            updated_at=now,
            created_by=actor_label(actor)[:200],
        )
        record_event(
            kind="report_recipient.added",
            subject_type="report_recipient",
            subject_id=recipient.uuid,
            actor=actor,
            payload=_recipient_payload(recipient),
        )
    return recipient


def change_recipient(
    *, client: Any, recipient: ReportRecipient, name: Any, email: Any, kinds: Any, actor: Any
) -> ReportRecipient:
    """Change a recipient's name, address or kinds (``report_recipient.changed``)."""
    name, email, kinds = _clean(
        client=client, name=name, email=email, kinds=kinds, instance=recipient
    )
    with transaction.atomic():
        recipient.name, recipient.email, recipient.kinds = name, email, kinds
        recipient.updated_at = timezone.now()
        recipient.save(update_fields=["name", "email", "kinds", "updated_at"])
        record_event(
            kind="report_recipient.changed",
            subject_type="report_recipient",
            subject_id=recipient.uuid,
            actor=actor,
            payload=_recipient_payload(recipient),
        )
    return recipient


def remove_recipient(*, recipient: ReportRecipient, actor: Any) -> None:
    """Remove a recipient; the deliveries made to them stay (``report_recipient.removed``)."""
    with transaction.atomic():
        record_event(
            kind="report_recipient.removed",
            subject_type="report_recipient",
            subject_id=recipient.uuid,
            actor=actor,
            payload=_recipient_payload(recipient),
        )
        recipient.delete()


# --- deliveries ----------------------------------------------------------------------------


def on_report_generated(event: Any) -> None:
    """Evidence subscriber of ``report.generated``: one delivery per recipient subscribed to
    the report's kind, each queued once the report's transaction commits."""
    report = StoredReport.objects.filter(uuid=event.subject_id).first()
    if report is None:
        return
    now = timezone.now()
    made = []
    for recipient in ReportRecipient.objects.filter(kinds__contains=[report.kind]):
        delivery, created = ReportDelivery.objects.get_or_create(
            report=report,
            email=recipient.email,
            defaults={"recipient": recipient, "name": recipient.name, "created_at": now},
        )
        if created:
            made.append(delivery.uuid)
    if made:
        schema = connection.schema_name
        transaction.on_commit(lambda: queue_deliveries(made, schema), robust=True)


def queue_deliveries(uuids: Iterable[Any], schema: str) -> None:
    """Queue ``reports.deliver_report`` for each delivery in ``schema``'s client. A broker that
    cannot be reached is logged (the deliveries stay pending on the report's page)."""
    from .tasks import deliver_report_task

    for uuid in uuids:
        try:
            deliver_report_task.apply_async(
                kwargs={"delivery": str(uuid)}, headers={"_schema_name": schema}, retry=False
            )
        except REDIS_ERRORS:
            logger.exception("report delivery %s could not be queued", uuid)


def delivery_link(client: Any, delivery: ReportDelivery) -> str:
    """The absolute, signed link of ``delivery`` (see the module docstring)."""
    token = signing.dumps({"d": str(delivery.uuid), "c": client.schema_name}, salt=LINK_SALT)
    return f"{settings.PORTAL_URL.rstrip('/')}/clients/{client.slug}/reports/delivered/{token}/"


def _has_portal_access(client: Any, email: str) -> bool:
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    return user is not None and has_capability(user, client, Capability.REPORTS)


def deliver(*, client: Any, uuid: Any, final_attempt: bool = True) -> ReportDelivery:
    """Send the e-mail of delivery ``uuid`` unless it was sent (or given up) already.

    Raises ``MailFailed`` when the mail server does not take it (the delivery is ``retrying``
    with the error, or ``failed`` with ``report.delivery_failed`` when ``final_attempt``)."""
    with transaction.atomic():
        delivery = (
            ReportDelivery.objects.select_for_update().select_related("report").get(uuid=uuid)
        )
        if delivery.state in (DeliveryState.SENT, DeliveryState.FAILED):
            return delivery
        report = delivery.report
        delivery.attempts += 1
        sent_at = timezone.now()
        expires = sent_at + timedelta(days=settings.REPORT_DELIVERY_LINK_DAYS)
        context = {
            "client": client,
            "report": report,
            "period_label": format_period(report.period),
            "recipient_name": delivery.name,
            "link": delivery_link(client, delivery),
            "link_expires_at": expires,
            "has_access": _has_portal_access(client, delivery.email),
            "email": delivery.email,
        }
        try:
            send_templated(template=TEMPLATE, to=[delivery.email], context=context)
        except MAIL_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            _record_failure(delivery, error, final=final_attempt)
        else:
            delivery.state = DeliveryState.SENT
            delivery.sent_at, delivery.link_expires_at, delivery.error = sent_at, expires, ""
            delivery.save(
                update_fields=["state", "attempts", "sent_at", "link_expires_at", "error"]
            )
            record_event(
                kind="report.delivered",
                subject_type="report",
                subject_id=report.uuid,
                actor="system:report-delivery",
                payload={
                    "delivery": str(delivery.uuid),
                    "recipient": delivery.name,
                    "email": delivery.email,
                    **_report_payload(report),
                    "link_expires_at": expires.isoformat(),
                    "sent_at": sent_at.isoformat(),
                    "attempts": delivery.attempts,
                },
                occurred_at=sent_at,
            )
            return delivery
    raise MailFailed(error)


def _report_payload(report: StoredReport) -> dict[str, Any]:
    return {
        "kind": report.kind,
        "period": format_period(report.period),
        "version": report.version,
        "sha256": report.sha256,
    }


def _record_failure(delivery: ReportDelivery, error: str, *, final: bool) -> None:
    delivery.error = error
    delivery.state = DeliveryState.FAILED if final else DeliveryState.RETRYING
    delivery.save(update_fields=["state", "attempts", "error"])
    if final:
        record_event(
            kind="report.delivery_failed",
            subject_type="report",
            subject_id=delivery.report.uuid,
            actor="system:report-delivery",
            payload={
                "delivery": str(delivery.uuid),
                "recipient": delivery.name,
                "email": delivery.email,
                **_report_payload(delivery.report),
                "error": error,
                "attempts": delivery.attempts,
            },
        )


def open_link(*, client: Client, token: str, user: Any) -> ReportDelivery:
    """The delivery whose link ``token`` admits ``user`` (signed in, with the reports
    capability: the page checked), its use recorded; ``LinkRefused`` otherwise."""
    max_age = timedelta(days=settings.REPORT_DELIVERY_LINK_DAYS)
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkRefused(
            "This link has expired. Sign in and download the report from the reports page, "
            "or ask the MSP for a new e-mail.",
            status=410,
        ) from None
    except signing.BadSignature:
        raise LinkRefused("This is not a valid report link.", status=404) from None
    if not isinstance(data, dict) or data.get("c") != client.schema_name:
        raise LinkRefused("This is not a valid report link.", status=404)
    delivery = (
        ReportDelivery.objects.select_related("report")
        .filter(uuid=data.get("d"), state=DeliveryState.SENT)
        .first()
    )
    if delivery is None:
        raise LinkRefused("This is not a valid report link.", status=404)
    if (getattr(user, "email", "") or "").lower() != delivery.email.lower():
        raise LinkRefused(
            "This link was e-mailed to someone else and works only for them. "
            "Use the reports page to download the report."
        )
    with transaction.atomic():
        record_event(
            kind="report.delivery_opened",
            subject_type="report",
            subject_id=delivery.report.uuid,
            actor=user,
            payload={
                "delivery": str(delivery.uuid),
                "email": delivery.email,
                **_report_payload(delivery.report),
            },
        )
        if delivery.opened_at is None:
            delivery.opened_at = timezone.now()
            delivery.save(update_fields=["opened_at"])
    return delivery


def deliveries_of(report: StoredReport) -> list[ReportDelivery]:
    """The report's deliveries for its page and API, by address."""
    return list(report.deliveries.order_by("email"))


def requeue_lost_deliveries(*, now: Any = None) -> int:
    """Queue again each delivery of the current client still pending after ``LOST_AFTER``
    (sending stays once per delivery: the task finds a sent one sent)."""
    cutoff = (now or timezone.now()) - LOST_AFTER
    lost = list(
        ReportDelivery.objects.filter(
            state=DeliveryState.PENDING, created_at__lt=cutoff
        ).values_list("uuid", flat=True)
    )
    if lost:
        queue_deliveries(lost, connection.schema_name)
    return len(lost)
