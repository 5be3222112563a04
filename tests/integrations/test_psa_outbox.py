"""PSA outbox tickets: after-hours flag in the client's time zone, validation, API."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from integrations.services import is_after_hours, open_ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("at", "after_hours"),
    [
        (datetime(2026, 6, 2, 14, 0, tzinfo=UTC), False),  # Tue 09:00 Chicago
        (datetime(2026, 6, 2, 12, 30, tzinfo=UTC), True),  # Tue 07:30 Chicago
        (datetime(2026, 6, 2, 23, 0, tzinfo=UTC), True),  # Tue 18:00 Chicago (end excluded)
        (datetime(2026, 6, 6, 16, 0, tzinfo=UTC), True),  # Saturday 11:00
    ],
)
def test_after_hours_uses_the_client_time_zone(tenant_a, at, after_hours):
    assert is_after_hours(at, tenant_a) is after_hours


def test_same_instant_differs_between_clients(tenant_a, tenant_b):
    at = datetime(2026, 6, 2, 14, 0, tzinfo=UTC)  # 09:00 Chicago, 16:00 Berlin
    assert not is_after_hours(at, tenant_a) and not is_after_hours(at, tenant_b)
    at = datetime(2026, 6, 2, 17, 30, tzinfo=UTC)  # 12:30 Chicago, 19:30 Berlin
    assert not is_after_hours(at, tenant_a) and is_after_hours(at, tenant_b)


def test_ticket_is_queued_with_flag_and_event(in_tenant_a):
    from evidence.models import EvidenceEvent

    ticket = open_ticket(
        category="patching",
        summary="Reboot pending on FRONTDESK-01",
        at=datetime(2026, 6, 3, 3, 0, tzinfo=UTC),
    )
    assert ticket.status == "queued" and ticket.attempts == 0 and ticket.is_after_hours
    assert EvidenceEvent.objects.get(kind="ticket.queued").subject_id == str(ticket.uuid)


def test_bad_ticket_is_refused(in_tenant_a):
    with pytest.raises(ValidationError):
        open_ticket(category="gossip", summary="x")
    with pytest.raises(ValidationError):
        open_ticket(category="patching", summary="  ")


def test_outbox_api(tenant_a, login, personas, http):
    with tenant_context(tenant_a):
        open_ticket(category="breach", summary="Canary breach", priority="high")
        open_ticket(category="patching", summary="Other")
    url = "/clients/tenant-a/api/v1/psa-tickets/"
    assert http.get(url).status_code == 401
    body = login(personas.viewer_a).get(url + "?category=breach").json()
    assert body["count"] == 1 and body["results"][0]["priority"] == "high"
    assert set(body["results"][0]) >= {"id", "is_after_hours", "related", "status"}
    assert login(personas.owner_b).get(url).status_code == 404
