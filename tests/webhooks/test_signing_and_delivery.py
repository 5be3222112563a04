"""Signing, replays, retries, dead letters, rotation, the send-test button, the delivery log
page and the API of the webhook endpoints, against a local receiver that verifies with its
own HMAC code."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from integrations.models import OutboxMessage
from tenants.choices import TokenScope
from tests.exceptions_register.factories import make_exception
from tests.webhooks.conftest import deliver, make_endpoint
from tests.webhooks.receiver import Request, expected_signature, receiver
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db
PAGES = "/clients/tenant-a/webhooks/"
API = "/clients/tenant-a/api/v1/webhooks/"


def _request_exception(client, personas, reference: str = "PSA-1001"):
    with tenant_context(client):
        return make_exception(
            client=client, approver=personas.owner_a, actor=personas.engineer,
            ticket_reference=reference,
        )  # fmt: skip


def _replay(server, request: Request, **headers: str) -> int:
    """POST a captured delivery again, as someone who recorded it would."""
    sent = {k: v for k, v in request.headers.items() if k.startswith("x-patchops")}
    sent.update(headers)
    call = urllib.request.Request(
        server.url, data=request.body, headers={"Content-Type": "application/json", **sent}
    )
    try:
        with urllib.request.urlopen(call, timeout=5) as answer:  # noqa: S310 - local receiver
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_signature_verifies_and_replays_are_refused(hook, tenant_a, personas):
    endpoint = make_endpoint(hook, client=tenant_a, events=["exception.requested"])
    exception = _request_exception(tenant_a, personas)
    deliver(tenant_a)
    (request,) = hook.processed
    assert request.json["data"]["exception"] == str(exception.uuid)
    with tenant_context(tenant_a):
        message = OutboxMessage.objects.get(subject_id=str(endpoint.uuid))
    assert request.delivery == str(message.uuid)
    assert request.headers["x-patchops-event"] == "exception.requested"
    timestamp = request.headers["x-patchops-timestamp"]
    assert request.headers["x-patchops-signature"] == (
        f"v1={expected_signature(endpoint.secret, timestamp, request.body)}"
    )
    # The same delivery again (same id, valid signature): not processed twice.
    assert _replay(hook, request) == 200
    assert hook.requests[-1].outcome == "duplicate" and len(hook.processed) == 1
    # Recorded and sent later than the tolerance: refused.
    with time_machine.travel(timezone.now() + timedelta(seconds=hook.tolerance + 60)):
        hook.seen.clear()
        assert _replay(hook, request) == 400
    assert hook.requests[-1].outcome == "stale timestamp"
    # A body changed on the way: the signature does not match.
    forged = Request(request.headers, request.body.replace(b"PSA-1001", b"PSA-9999"))
    assert _replay(hook, forged) == 401
    assert len(hook.processed) == 1


def test_public_verify_helper_agrees_with_the_receiver(hook, tenant_a, personas):
    from webhooks.verify import SignatureError, verify

    endpoint = make_endpoint(hook, client=tenant_a, events=["exception.requested"])
    _request_exception(tenant_a, personas)
    deliver(tenant_a)
    (request,) = hook.processed
    headers = request.headers
    sent = verify(
        body=request.body,
        timestamp=headers["x-patchops-timestamp"],
        signature=headers["x-patchops-signature"],
        secrets=[endpoint.secret],
    )
    assert sent == int(headers["x-patchops-timestamp"])
    with pytest.raises(SignatureError):
        verify(body=request.body + b" ", timestamp=headers["x-patchops-timestamp"],
               signature=headers["x-patchops-signature"], secrets=[endpoint.secret])  # fmt: skip
    with pytest.raises(SignatureError):
        verify(body=request.body, timestamp=headers["x-patchops-timestamp"],
               signature=headers["x-patchops-signature"], secrets=[endpoint.secret],
               now=sent + 301)  # fmt: skip


def test_retries_on_5xx_are_one_delivery_with_one_id(hook, tenant_a, personas):
    make_endpoint(hook, client=tenant_a, events=["exception.requested"])
    hook.statuses = [503, 500]
    _request_exception(tenant_a, personas)
    deliver(tenant_a, rounds=3)
    assert [r.status for r in hook.requests] == [503, 500, 200]
    assert len({r.delivery for r in hook.requests}) == 1
    assert len(hook.processed) == 1
    with tenant_context(tenant_a):
        (message,) = OutboxMessage.objects.filter(kind="webhook")
    assert (message.state, message.attempts, message.response_status) == ("delivered", 3, 200)


def test_dead_after_max_attempts_then_sent_again_from_the_log_page(
    hook, tenant_a, personas, login, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    endpoint = make_endpoint(hook, client=tenant_a, events=["exception.requested"])
    hook.statuses = [502, 503]
    _request_exception(tenant_a, personas)
    deliver(tenant_a, rounds=3)
    with tenant_context(tenant_a):
        (message,) = OutboxMessage.objects.filter(kind="webhook")
    assert (message.state, message.attempts, message.response_status) == ("dead", 2, 503)
    http = login(personas.msp_admin)
    page = http.get(f"{PAGES}{endpoint.uuid}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-testid="delivery-{message.uuid}" data-state="dead"' in body
    assert "HTTP 503" in body and f'data-testid="retry-{message.uuid}"' in body
    retry = http.post(f"{PAGES}{endpoint.uuid}/deliveries/{message.uuid}/retry/")
    assert retry.status_code == 302
    deliver(tenant_a)
    assert [r.status for r in hook.requests] == [502, 503, 200]
    assert {r.delivery for r in hook.requests} == {str(message.uuid)}
    body = http.get(f"{PAGES}{endpoint.uuid}/").content.decode()
    assert f'data-testid="delivery-{message.uuid}" data-state="delivered"' in body


def test_rotation_signs_with_both_secrets_then_only_the_new_one(tenant_a, personas, settings):
    from webhooks.services import rotate_secret

    with receiver() as old_only, receiver() as new_only:
        endpoint = make_endpoint(old_only, client=tenant_a, events=["exception.requested"])
        rotated = rotate_secret(endpoint=endpoint)
        new_only.secrets.append(rotated.secret)
        assert rotated.secret != old_only.secrets[0]
        # Both receivers listen on the one URL in turn: first the one holding the old secret.
        for server, reference in ((old_only, "PSA-2001"), (new_only, "PSA-2002")):
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=server.url)
            _request_exception(tenant_a, personas, reference)
            deliver(tenant_a)
        assert [r.outcome for r in old_only.requests] == ["processed"]
        assert [r.outcome for r in new_only.requests] == ["processed"]
        assert new_only.requests[0].headers["x-patchops-signature"].count("v1=") == 2
        grace = timedelta(hours=settings.WEBHOOK_ROTATION_GRACE_HOURS)
        with time_machine.travel(timezone.now() + grace + timedelta(minutes=1)):
            for server, reference in ((old_only, "PSA-2003"), (new_only, "PSA-2004")):
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=server.url)
                server.tolerance = 10**9  # the receiver's clock is not travelling
                _request_exception(tenant_a, personas, reference)
                deliver(tenant_a)
        assert [r.outcome for r in old_only.requests] == ["processed", "bad signature"]
        assert [r.outcome for r in new_only.requests] == ["processed", "processed"]
        assert new_only.requests[1].headers["x-patchops-signature"].count("v1=") == 1


def test_send_test_button_and_the_secret_shown_once(hook, tenant_a, personas, login):
    http = login(personas.msp_admin)
    created = http.post(
        PAGES,
        {"url": hook.url, "description": "SIEM", "events": ["rollout.halted"], "is_active": "on"},
    )
    assert created.status_code == 200
    endpoint = WebhookEndpoint.objects.get(client=tenant_a)
    assert endpoint.secret in created.content.decode()
    hook.secrets.append(endpoint.secret)
    detail = http.get(f"{PAGES}{endpoint.uuid}/").content.decode()
    assert endpoint.secret not in detail and 'data-testid="send-test"' in detail
    assert http.post(f"{PAGES}{endpoint.uuid}/test/").status_code == 302
    deliver(tenant_a)
    (event,) = hook.events("webhook.test")
    assert event["client"] == {"slug": tenant_a.slug, "name": tenant_a.name}
    assert event["data"]["endpoint"] == str(endpoint.uuid)
    detail = http.get(f"{PAGES}{endpoint.uuid}/").content.decode()
    delivery = hook.processed[0].delivery
    assert f'data-testid="delivery-{delivery}" data-state="delivered"' in detail
    assert "webhook.test" in detail
    rotated = http.post(f"{PAGES}{endpoint.uuid}/rotate/")
    endpoint.refresh_from_db()
    assert rotated.status_code == 200 and endpoint.secret in rotated.content.decode()


def test_bad_input_is_refused_with_no_change(tenant_a, personas, login, settings):
    before = WebhookEndpoint.objects.count()
    http = login(personas.msp_admin)
    cases = [
        ({"url": "http://example.com/hook", "events": ["rollout.halted"]}, "https"),
        ({"url": "https://10.0.0.5/hook", "events": ["rollout.halted"]}, "private"),
        ({"url": "https://user:pw@example.com/hook", "events": ["rollout.halted"]}, "credentials"),
        ({"url": "https://example.com/hook", "events": ["nope"]}, "nope"),
        ({"url": "https://example.com/hook"}, "required"),
    ]
    for data, word in cases:
        response = http.post(PAGES, data)
        assert response.status_code == 400, data
        assert word in response.content.decode(), data
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    response = http.post(PAGES, {"url": "http://127.0.0.1:9/h", "events": ["rollout.halted"]})
    assert response.status_code == 400
    api = login(personas.msp_admin)
    for body in (
        {"url": "ftp://example.com/", "events": ["report.ready"]},
        {"url": "https://example.com/", "events": []},
        {"url": "https://example.com/", "events": "report.ready"},
        {"url": "https://example.com/", "events": ["report.ready"], "is_active": "maybe"},
    ):
        answer = api.post(API, json.dumps(body), content_type="application/json")
        assert answer.status_code == 400, (body, answer.content)
    assert api.post(API, "{", content_type="application/json").status_code == 400
    assert WebhookEndpoint.objects.count() == before


def test_only_msp_admins_manage_webhooks(tenant_a, personas, login, make_token, api):
    for user in (personas.engineer, personas.owner_a, personas.account_manager):
        assert login(user).get(PAGES).status_code == 403, user
        assert login(user).get("/msp-webhooks/").status_code == 403, user
    assert login(personas.owner_b).get(PAGES).status_code == 404
    _, plaintext = make_token(TokenScope.WRITE, client=tenant_a)
    assert api(plaintext).get(API).status_code == 403


def test_api_create_list_rotate_test_and_deliveries(hook, tenant_a, personas, login):
    http = login(personas.msp_admin)
    body = {"url": hook.url, "events": ["report.ready", "rollout.halted"], "description": "Ops"}
    created = http.post(API, json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["client"] == tenant_a.slug and set(data["events"]) == set(body["events"])
    endpoint = WebhookEndpoint.objects.get(uuid=data["id"])
    assert data["secret"] == endpoint.secret
    listed = http.get(API).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["id"] for r in rows] == [data["id"]] and "secret" not in rows[0]
    rotated = http.post(f"{API}{data['id']}/rotate/").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret != data["secret"]
    assert rotated["previous_secret_signs_until"]
    hook.secrets.append(endpoint.secret)
    queued = http.post(f"{API}{data['id']}/test/")
    assert queued.status_code == 202
    deliver(tenant_a)
    assert [e["type"] for e in hook.events()] == ["webhook.test"]
    (row,) = http.get(f"{API}{data['id']}/deliveries/").json()
    assert row["id"] == queued.json()["id"] == hook.processed[0].delivery
    assert (row["state"], row["attempts"], row["response_status"]) == ("delivered", 1, 200)
    assert row["payload"]["type"] == "webhook.test"
    paused = http.patch(f"{API}{data['id']}/", json.dumps({"is_active": False}),
                        content_type="application/json")  # fmt: skip
    assert paused.status_code == 200 and paused.json()["is_active"] is False
    assert paused.json()["events"] == data["events"]


def test_msp_pages_and_api(hook, tenant_a, tenant_b, personas, login):
    http = login(personas.msp_admin)
    created = http.post(
        "/api/v1/msp-webhooks/",
        json.dumps({"url": hook.url, "events": ["exception.requested"]}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["client"] is None
    hook.secrets.append(data["secret"])
    missing = http.post(f"/api/v1/msp-webhooks/{data['id']}/test/", {})
    assert missing.status_code == 400
    sent = http.post(f"/msp-webhooks/{data['id']}/test/", {"client": tenant_b.slug})
    assert sent.status_code == 302
    deliver(tenant_b)
    (event,) = hook.events("webhook.test")
    assert event["client"]["slug"] == tenant_b.slug
    page = http.get(f"/msp-webhooks/{data['id']}/").content.decode()
    assert hook.processed[0].delivery in page
    assert http.get("/msp-webhooks/").status_code == 200
