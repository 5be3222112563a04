"""The outbox through the real Celery app: committed messages, Redis, a worker process, and an
RMM that is a real HTTP server on 127.0.0.1.

The data lives in a client created (and committed) for this module and dropped afterwards, so
the worker sees it; the worker retries with a one-second backoff factor.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from integrations import tasks
from integrations.connectors import SIGNATURE_HEADER, WebhookConnector
from integrations.models import OutboxMessage, RmmWebhook
from patchops.celery import app
from tenants.models import Client, Domain
from tenants.services import create_client
from tests.celery_worker import celery_worker
from tests.integrations.rmm_server import RmmServer, rmm_server

pytestmark = pytest.mark.celery_worker

DONE = ("delivered", "dead")


@pytest.fixture(scope="module")
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def client(committed):
    client = create_client(slug=f"outbox-{uuid.uuid4().hex[:8]}", name="Outbox Clinic")
    try:
        yield client
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
        Domain.objects.filter(tenant_id=client.pk).delete()
        Client.objects.filter(pk=client.pk)._raw_delete(using="default")
        connection.close()


@pytest.fixture(scope="module")
def worker(committed):
    with celery_worker(
        OUTBOX_RETRY_BACKOFF_SECONDS="1", OUTBOX_RETRY_BACKOFF_MAX_SECONDS="2"
    ) as queue:
        yield queue


@pytest.fixture
def outbox(worker, settings):
    """Deliveries queued by this test go to the test's worker."""
    settings.OUTBOX_QUEUE = worker
    return worker


@pytest.fixture
def rmm():
    with rmm_server() as server:
        yield server


def _hook(client, rmm: RmmServer, *, attempts: int = 3) -> RmmWebhook:
    with tenant_context(client):
        return RmmWebhook.objects.create(
            name="RMM", url=rmm.url, secret="s3cret", max_attempts=attempts, timeout_seconds=5
        )


def _enqueue(client, hook: RmmWebhook, *, key: str | None = None, **payload) -> OutboxMessage:
    """What a rollout does: the call is written in the rollout's transaction."""
    with tenant_context(client), transaction.atomic():
        return WebhookConnector(hook).enqueue(
            "wave.deploy", {"wave": "w-1", **payload}, key=key or uuid.uuid4().hex
        )


def _settled(client, message: OutboxMessage, timeout: float = 60) -> OutboxMessage:
    deadline = time.monotonic() + timeout
    with tenant_context(client):
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.state in DONE:
                return message
            time.sleep(0.1)
    raise AssertionError(f"still {message.state} after {timeout} s")


def test_a_committed_call_is_delivered_once(client, outbox, rmm):
    hook = _hook(client, rmm)
    message = _enqueue(client, hook, assets=[{"hostname": "ws-01"}])
    message = _settled(client, message)
    assert (message.state, message.attempts, message.response_status) == ("delivered", 1, 200)
    assert message.delivered_at is not None and message.last_error == ""
    [call] = rmm.calls
    assert call.headers["idempotency-key"] == message.idempotency_key
    assert call.headers[SIGNATURE_HEADER.lower()] == (
        "sha256=" + hmac.new(b"s3cret", call.body, hashlib.sha256).hexdigest()
    )
    assert call.json == {"event": "wave.deploy", "wave": "w-1", "assets": [{"hostname": "ws-01"}]}
    time.sleep(1.5)  # no late second delivery
    assert len(rmm.calls) == 1


def test_a_server_failing_twice_gets_the_call_on_the_third_attempt(client, outbox, rmm):
    rmm.statuses = [503, 500]
    message = _settled(client, _enqueue(client, _hook(client, rmm)))
    assert (message.state, message.attempts, message.response_status) == ("delivered", 3, 200)
    assert message.last_error == ""
    calls = rmm.calls_for(message.idempotency_key)
    assert len(calls) == 3
    assert len({c.body for c in calls}) == 1  # the same body, the same key, every attempt


def test_a_server_that_never_accepts_makes_the_call_dead(client, outbox, rmm):
    rmm.default = 503
    message = _settled(client, _enqueue(client, _hook(client, rmm, attempts=3)))
    assert (message.state, message.attempts) == ("dead", 3)
    assert (message.last_error, message.response_status) == ("HTTP 503", 503)
    assert message.next_attempt_at is None
    assert len(rmm.calls_for(message.idempotency_key)) == 3


def test_a_refusal_is_not_retried(client, outbox, rmm):
    rmm.default = 400
    message = _settled(client, _enqueue(client, _hook(client, rmm, attempts=5)))
    assert (message.state, message.attempts, message.last_error) == (
        "dead",
        1,
        "HTTP 400 (refused)",
    )
    assert len(rmm.calls) == 1


def test_an_unreachable_server_is_retried_until_dead(client, outbox, rmm):
    hook = _hook(client, rmm, attempts=2)
    with rmm_server() as gone:
        url = gone.url
    with tenant_context(client):
        RmmWebhook.objects.filter(pk=hook.pk).update(url=url)
        hook.refresh_from_db()
    message = _settled(client, _enqueue(client, hook))
    assert (message.state, message.attempts) == ("dead", 2)
    assert "refused" in message.last_error.lower() and message.response_status is None


def test_the_same_message_queued_twice_is_delivered_once(client, outbox, rmm):
    hook = _hook(client, rmm)
    first = _enqueue(client, hook, key="deploy-once")
    second = _enqueue(client, hook, key="deploy-once")
    assert second.pk == first.pk
    _settled(client, first)
    # A later message on the same (solo) worker: once it arrived, nothing else is on its way.
    _settled(client, _enqueue(client, hook))
    assert len(rmm.calls_for(first.idempotency_key)) == 1
    with tenant_context(client):
        assert OutboxMessage.objects.filter(idempotency_key=first.idempotency_key).count() == 1


def test_nothing_is_sent_when_the_transaction_rolls_back(client, outbox, rmm):
    hook = _hook(client, rmm)
    key = uuid.uuid4().hex
    with pytest.raises(RuntimeError), tenant_context(client), transaction.atomic():
        message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w-1"}, key=key)
        raise RuntimeError("the rollout's transaction fails")
    with tenant_context(client):
        assert not OutboxMessage.objects.filter(pk=message.pk).exists()
    later = _settled(client, _enqueue(client, hook))
    assert [c.headers["idempotency-key"] for c in rmm.calls] == [later.idempotency_key]


def test_the_sweep_requeues_a_call_whose_task_was_lost(client, outbox, rmm, settings):
    hook = _hook(client, rmm)
    lost = f"lost-{uuid.uuid4().hex[:8]}"
    settings.OUTBOX_QUEUE = lost  # nobody consumes it: the task is as good as lost
    message = _enqueue(client, hook)
    try:
        time.sleep(1.0)
        assert rmm.calls == []
        settings.OUTBOX_QUEUE = outbox
        with tenant_context(client):
            assert tasks.sweep_outbox() == {
                "schema": client.schema_name,
                "requeued": 0,
                "dead": 0,
            }  # not stale yet
            later = timezone.now() + timedelta(seconds=settings.OUTBOX_STALE_AFTER_SECONDS + 60)
            with time_machine.travel(later, tick=True):
                summary = tasks.sweep_outbox()
        assert summary["requeued"] == 1
        message = _settled(client, message)
        assert (message.state, message.attempts) == ("delivered", 1)
        assert len(rmm.calls) == 1
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(lost)
