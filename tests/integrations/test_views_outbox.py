"""The integrations page: every outbound call with its delivery state, for engineers and MSP
admins; a dead call is sent again from it."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from integrations.connectors import WebhookConnector
from integrations.models import OutboxMessage, RmmWebhook
from tests.integrations.outbox_helpers import calls_in_every_state
from tests.integrations.rmm_server import rmm_server

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/integrations/outbox/"


@pytest.fixture
def rmm():
    with rmm_server() as server:
        yield server


@pytest.fixture
def calls(tenant_a, rmm):
    return calls_in_every_state(tenant_a, rmm)


def _row(html: str, message: OutboxMessage) -> str:
    start = html.index(f'data-testid="outbox-{message.uuid}"')
    return html[start : html.index("</tr>", start)]


def test_engineers_see_each_call_with_its_delivery_state(login, personas, calls, tenant_a):
    response = login(personas.engineer).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    delivered = _row(html, calls["delivered"])
    assert 'data-state="delivered"' in delivered and "1 / 2" in delivered
    assert "HTTP 200" in delivered and "Send again" not in delivered
    retrying = _row(html, calls["failed_retrying"])
    assert "Failed, retrying" in retrying and "1 / 2" in retrying and "HTTP 503" in retrying
    next_attempt = calls["failed_retrying"].next_attempt_at.astimezone(tenant_a.tz)
    assert next_attempt.strftime("%Y-%m-%d %H:%M:%S") in retrying  # client time
    dead = _row(html, calls["dead"])
    assert "Dead" in dead and "2 / 2" in dead and "HTTP 500" in dead
    assert f'data-testid="retry-{calls["dead"].uuid}"' in dead
    assert "Ninja" in dead and "/patchops" in dead
    assert 'href="/clients/tenant-a/integrations/outbox/"' in html  # in the client nav


@pytest.mark.parametrize("who", ["owner_a", "viewer_a", "account_manager"])
def test_the_page_and_the_retry_need_the_operate_capability(login, personas, calls, who):
    http = login(getattr(personas, who))
    assert http.get(PAGE).status_code == 403
    dead = calls["dead"]
    assert http.post(f"{PAGE}{dead.uuid}/retry/").status_code == 403
    dead.refresh_from_db()
    assert dead.state == "dead"
    nav = http.get("/clients/tenant-a/").content.decode()
    assert "integrations/outbox/" not in nav


def test_anonymous_is_sent_to_the_login(http, calls):
    response = http.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_clients_call_is_not_found(login, personas, calls):
    http = login(personas.owner_b)
    assert http.get("/clients/tenant-b/integrations/outbox/").status_code == 403
    http = login(personas.engineer)
    assert (
        http.post(f"/clients/tenant-b/integrations/outbox/{calls['dead'].uuid}/retry/").status_code
        == 404
    )


def test_sending_a_dead_call_again_from_the_page(login, personas, calls, rmm):
    dead = calls["dead"]
    http = login(personas.engineer)
    response = http.post(f"{PAGE}{dead.uuid}/retry/", {"next": "?state=dead"})
    assert response.status_code == 302 and response["Location"].endswith(f"{PAGE}?state=dead")
    dead.refresh_from_db()
    assert (dead.state, dead.attempts, dead.retried_by) == ("pending", 0, "engineer@msp.test")
    page = http.get(PAGE).content.decode()
    assert "sent again" in _row(page, dead)
    # Sending it again a second time (it is no longer dead) is refused with a message.
    again = http.post(f"{PAGE}{dead.uuid}/retry/", follow=True)
    assert "Only a call that was given up is sent again" in again.content.decode()


def test_the_list_filters_by_state(login, personas, calls):
    html = login(personas.engineer).get(f"{PAGE}?state=dead").content.decode()
    assert f"outbox-{calls['dead'].uuid}" in html
    assert f"outbox-{calls['delivered'].uuid}" not in html
    bad = login(personas.engineer).get(f"{PAGE}?state=nonsense")
    assert bad.status_code == 200 and 'data-testid="outbox-' not in bad.content.decode()


@pytest.mark.parametrize("count", [5, 60])
def test_the_list_is_paginated_with_a_flat_query_count(
    login, personas, tenant_a, rmm, count, django_assert_max_num_queries
):
    with tenant_context(tenant_a):
        connector = WebhookConnector(RmmWebhook.objects.create(name="R", url=rmm.url, secret="k"))
        for n in range(count):
            connector.enqueue("wave.deploy", {"wave": str(n)}, key=str(n))
    http = login(personas.engineer)
    http.get(PAGE)
    with django_assert_max_num_queries(16):
        html = http.get(PAGE).content.decode()
    assert html.count('data-testid="outbox-') == min(count, 50)
    if count > 50:
        assert "Page 1 of 2" in html
        second = http.get(f"{PAGE}?page=2").content.decode()
        assert second.count('data-testid="outbox-') == count - 50
