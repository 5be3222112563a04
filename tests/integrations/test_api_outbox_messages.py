"""``outbox-messages/``: the outbound calls and their delivery state through the API (read and
retry), for engineers, MSP admins and write tokens."""

from __future__ import annotations

import pytest

from tenants.choices import TokenScope
from tests.integrations.outbox_helpers import calls_in_every_state
from tests.integrations.rmm_server import rmm_server

pytestmark = pytest.mark.django_db

URL = "/clients/tenant-a/api/v1/outbox-messages/"


@pytest.fixture
def rmm():
    with rmm_server() as server:
        yield server


@pytest.fixture
def calls(tenant_a, rmm):
    return calls_in_every_state(tenant_a, rmm)


def test_the_list_gives_each_calls_delivery_state(login, personas, calls):
    response = login(personas.engineer).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    rows = {r["id"]: r for r in body["results"]}
    dead = rows[str(calls["dead"].uuid)]
    assert (dead["state"], dead["attempts"], dead["max_attempts"]) == ("dead", 2, 2)
    assert (dead["last_error"], dead["response_status"], dead["retryable"]) == (
        "HTTP 500",
        500,
        True,
    )
    assert dead["idempotency_key"] == calls["dead"].idempotency_key
    assert dead["target_name"] == "Ninja" and dead["payload"] == {
        "event": "wave.deploy",
        "wave": "dead",
    }
    retrying = rows[str(calls["failed_retrying"].uuid)]
    assert retrying["state"] == "failed_retrying" and retrying["next_attempt_at"] is not None
    assert retrying["retryable"] is False
    delivered = rows[str(calls["delivered"].uuid)]
    assert delivered["delivered_at"] is not None and delivered["response_status"] == 200


def test_filters_brief_and_detail(login, personas, calls):
    http = login(personas.engineer)
    dead = http.get(f"{URL}?state=dead").json()
    assert [r["id"] for r in dead["results"]] == [str(calls["dead"].uuid)]
    brief = http.get(f"{URL}?brief=true").json()["results"][0]
    assert set(brief) == {"id", "event", "state", "attempts", "next_attempt_at"}
    detail = http.get(f"{URL}{calls['delivered'].uuid}/")
    assert detail.status_code == 200 and detail.json()["state"] == "delivered"
    assert http.get(f"{URL}?state=nonsense").status_code == 400


def test_retry_sends_a_dead_call_again(login, personas, calls):
    http = login(personas.engineer)
    response = http.post(f"{URL}{calls['dead'].uuid}/retry/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["attempts"], body["retried_by"]) == (
        "pending",
        0,
        "engineer@msp.test",
    )
    again = http.post(f"{URL}{calls['dead'].uuid}/retry/")
    assert again.status_code == 400 and "given up" in again.json()["detail"][0]
    assert http.post(f"{URL}{calls['delivered'].uuid}/retry/").status_code == 400


def test_write_tokens_read_and_retry(api, make_token, tenant_a, calls):
    _, token = make_token(TokenScope.WRITE, tenant_a)
    http = api(token)
    assert http.get(URL).status_code == 200
    assert http.post(f"{URL}{calls['dead'].uuid}/retry/").status_code == 200


@pytest.mark.parametrize("scope", [TokenScope.READ, TokenScope.AGENT])
def test_read_and_agent_tokens_are_refused(api, make_token, tenant_a, calls, scope):
    _, token = make_token(scope, tenant_a)
    http = api(token)
    assert http.get(URL).status_code == 403
    assert http.post(f"{URL}{calls['dead'].uuid}/retry/").status_code == 403
    calls["dead"].refresh_from_db()
    assert calls["dead"].state == "dead"


def test_client_people_are_refused_and_anonymous_is_unauthorised(http, login, personas, calls):
    assert http.get(URL).status_code == 401
    assert login(personas.owner_a).get(URL).status_code == 403
    assert login(personas.owner_a).post(f"{URL}{calls['dead'].uuid}/retry/").status_code == 403


def test_another_clients_call_is_not_found(login, personas, calls):
    http = login(personas.engineer)
    other = "/clients/tenant-b/api/v1/outbox-messages/"
    assert http.get(f"{other}{calls['dead'].uuid}/").status_code == 404
    assert http.post(f"{other}{calls['dead'].uuid}/retry/").status_code == 404
    assert http.get(other).json()["count"] == 0
