"""What the worker does with the notifications, for tests whose rows live in the rolled-back
test transaction (no worker can see them): the send task, called directly, once per row."""

from __future__ import annotations

from django.conf import settings
from django.core import mail

from notifications import tasks
from notifications.choices import Delivery, NotificationState
from notifications.models import Notification


def send_pending() -> list[str]:
    """One run of the send task for every pending immediate notification, oldest first."""
    due = Notification.objects.filter(
        state=NotificationState.PENDING, delivery=Delivery.IMMEDIATE
    ).order_by("pk")
    return [tasks.send_notification(pk) for pk in due.values_list("pk", flat=True)]


def mails_to(address: str) -> list[mail.EmailMultiAlternatives]:
    return [m for m in mail.outbox if address in m.to]


def html_of(message: mail.EmailMultiAlternatives) -> str:
    parts = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(parts) == 1, "the e-mail has one HTML part"
    return parts[0]


def assert_links_to(message: mail.EmailMultiAlternatives, path: str) -> None:
    """Both parts of the e-mail link to ``path`` on the portal (an absolute URL)."""
    url = settings.PORTAL_URL.rstrip("/") + path
    assert url in message.body, message.body
    assert f'href="{url}"' in html_of(message)
