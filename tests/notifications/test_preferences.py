"""Each user chooses per kind: immediately, in the daily digest, or off; the digest goes out
once a day at the user's local hour with every pending item."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django_tenants.utils import tenant_context

from notifications import services
from notifications.choices import Delivery, NotificationKind, NotificationState
from notifications.models import Notification, NotificationPreference, NotificationSettings
from tests.exceptions_register.factories import make_exception
from tests.notifications.helpers import assert_links_to, html_of, mails_to, send_pending

pytestmark = pytest.mark.django_db
KIND = NotificationKind.EXCEPTION_AWAITING_SIGNATURE
CHICAGO = ZoneInfo("America/Chicago")


def choose(user, delivery: str, *, hour: int = 8, tz: str = "America/Chicago") -> None:
    deliveries = {k: Delivery.IMMEDIATE for k in NotificationKind.values}
    deliveries[KIND] = delivery
    services.save_preferences(user=user, deliveries=deliveries, digest_hour=hour, time_zone=tz)


def exceptions_for(client, owner, engineer, references) -> list:
    with tenant_context(client):
        return [
            make_exception(client=client, approver=owner, actor=engineer, ticket_reference=ref)
            for ref in references
        ]


def test_off_sends_nothing(tenant_a, personas):
    choose(personas.owner_a, Delivery.OFF)
    exceptions_for(tenant_a, personas.owner_a, personas.engineer, ["PSA-2001"])
    assert not Notification.objects.filter(user=personas.owner_a).exists()
    send_pending()
    services.send_due_digests(at=datetime(2026, 6, 3, 8, 5, tzinfo=CHICAGO))
    assert mail.outbox == []


def test_digest_sends_one_mail_with_every_item_once_a_day(tenant_a, personas):
    choose(personas.owner_a, Delivery.DIGEST, hour=8)
    references = ["PSA-2001", "PSA-2002", "PSA-2003"]
    with time_machine.travel(datetime(2026, 6, 2, 15, 0, tzinfo=CHICAGO), tick=False):
        made = exceptions_for(tenant_a, personas.owner_a, personas.engineer, references)
    assert send_pending() == []  # nothing goes out at once
    assert mail.outbox == []
    # Not the digest hour in Chicago yet.
    assert services.send_due_digests(at=datetime(2026, 6, 3, 7, 5, tzinfo=CHICAGO)) == {
        "users": 0,
        "items": 0,
    }
    at = datetime(2026, 6, 3, 8, 5, tzinfo=CHICAGO)
    assert services.send_due_digests(at=at) == {"users": 1, "items": len(references)}
    [digest] = mails_to(personas.owner_a.email)
    assert str(len(references)) in digest.subject
    for exception in made:
        assert exception.ticket_reference in digest.body
        assert exception.ticket_reference in html_of(digest)
        assert_links_to(digest, f"/clients/{tenant_a.slug}/portal/exceptions/{exception.uuid}/")
    assert not Notification.objects.filter(state=NotificationState.PENDING).exists()
    # Run twice (the beat again, a second worker): still one digest.
    services.send_due_digests(at=at)
    assert services.send_digest(user=personas.owner_a, at=at) == 0
    assert len(mail.outbox) == 1
    # A new item the same day waits for tomorrow's digest.
    with time_machine.travel(datetime(2026, 6, 3, 8, 30, tzinfo=CHICAGO), tick=False):
        exceptions_for(tenant_a, personas.owner_a, personas.engineer, ["PSA-2004"])
    services.send_due_digests(at=datetime(2026, 6, 3, 8, 45, tzinfo=CHICAGO))
    assert len(mail.outbox) == 1
    services.send_due_digests(at=datetime(2026, 6, 4, 8, 5, tzinfo=CHICAGO))
    assert len(mail.outbox) == 2 and "PSA-2004" in mail.outbox[1].body
    assert "PSA-2001" not in mail.outbox[1].body


def test_preferences_page_edits_only_the_signed_in_users_own(login, personas):
    http = login(personas.owner_a)
    page = http.get("/accounts/notifications/")
    assert page.status_code == 200
    assert NotificationKind(KIND).label in page.content.decode()
    body = {f"kind_{k}": Delivery.IMMEDIATE for k in NotificationKind.values}
    body.update({f"kind_{KIND}": Delivery.DIGEST, "digest_hour": "6", "time_zone": "Europe/Berlin"})
    response = http.post("/accounts/notifications/", body)
    assert response.status_code == 302
    assert services.delivery_for(personas.owner_a, KIND) == Delivery.DIGEST
    row = NotificationSettings.objects.get(user=personas.owner_a)
    assert (row.digest_hour, row.time_zone) == (6, "Europe/Berlin")
    # Nobody else's preferences changed.
    assert not NotificationPreference.objects.exclude(user=personas.owner_a).exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("time_zone", "Mars/Olympus_Mons", "is not a time zone"),
        ("digest_hour", "24", "Select a valid choice"),
        (f"kind_{KIND}", "sometimes", "Select a valid choice"),
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(login, personas, field, value, error):
    http = login(personas.viewer_a)
    body = {f"kind_{k}": Delivery.OFF for k in NotificationKind.values}
    body.update({"digest_hour": "6", "time_zone": "Europe/Berlin", field: value})
    response = http.post("/accounts/notifications/", body)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not NotificationPreference.objects.filter(user=personas.viewer_a).exists()


def test_preferences_page_needs_a_signed_in_user(http):
    response = http.get("/accounts/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
