"""The outbox's write side and sweep inside the test transaction: a call is queued for delivery
only when its transaction commits, once per idempotency key; a dead call is sent again only by
someone allowed to; the beat sweeps only the clients with a lost delivery. (Delivery through
the real worker: ``test_outbox_worker.py``.)"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from integrations import outbox, tasks
from integrations.connectors import WebhookConnector
from integrations.models import OutboxMessage, RmmWebhook
from integrations.schedule import BEAT
from tests.integrations.outbox_helpers import deliver_outbox
from tests.integrations.rmm_server import rmm_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def rmm():
    with rmm_server() as server:
        yield server


@pytest.fixture
def hook(in_tenant_a, rmm):
    return RmmWebhook.objects.create(name="Ninja", url=rmm.url, secret="k", max_attempts=2)


def test_a_call_is_queued_for_delivery_when_its_transaction_commits(
    hook, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(outbox.current_app, "send_task", autospec=True) as send,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        with transaction.atomic():
            message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="a")
            assert send.call_count == 0  # not while the transaction is open
        again = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="a")
    assert again.pk == message.pk
    assert len(callbacks) == 1  # the repeat queues nothing
    [call] = send.call_args_list
    assert call.args == (outbox.DELIVER_TASK,)
    assert call.kwargs["args"] == [message.pk]
    assert call.kwargs["headers"] == {"_schema_name": "c_tenant_a"}


def test_a_rolled_back_call_leaves_nothing_to_send(hook, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="b")
        raise RuntimeError
    assert callbacks == [] and not OutboxMessage.objects.exists()


def test_the_key_is_scoped_to_the_event_and_the_webhook(hook, rmm):
    other = RmmWebhook.objects.create(name="Other", url=rmm.url, secret="k2")
    keys = {
        WebhookConnector(hook).enqueue("wave.deploy", {}, key="x").idempotency_key,
        WebhookConnector(hook).enqueue("asset.snapshot", {}, key="x").idempotency_key,
        WebhookConnector(other).enqueue("wave.deploy", {}, key="x").idempotency_key,
    }
    assert len(keys) == 3 and OutboxMessage.objects.count() == 3
    assert all(len(k) <= 200 for k in keys)


def test_a_failed_attempt_records_the_error_and_the_next_attempt(in_tenant_a, hook, rmm):
    rmm.default = 502
    message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="c")
    before = timezone.now()
    [outcome] = deliver_outbox(in_tenant_a)
    message.refresh_from_db()
    assert outcome == {"message": message.pk, "retry": "HTTP 502"}
    assert (message.state, message.attempts, message.response_status) == (
        "failed_retrying",
        1,
        502,
    )
    # Celery's backoff (factor OUTBOX_RETRY_BACKOFF_SECONDS, full jitter) on the row.
    assert before <= message.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    # Not yet due: another task for it does nothing.
    OutboxMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert tasks.deliver_outbox_message(message.pk) == {
        "message": message.pk,
        "skipped": "failed_retrying",
    }
    assert len(rmm.calls) == 1


def _dead(client, hook, rmm, key: str = "d") -> OutboxMessage:
    rmm.default = 503
    message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key=key)
    for _ in range(hook.max_attempts):
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=None)
        deliver_outbox(client)
    message.refresh_from_db()
    assert message.state == "dead"
    rmm.default = 200
    return message


def test_a_dead_call_is_sent_again_by_an_engineer(in_tenant_a, hook, rmm, personas):
    message = _dead(in_tenant_a, hook, rmm)
    with mock.patch.object(outbox.current_app, "send_task", autospec=True):
        again = outbox.retry_message(message=message, actor=personas.engineer)
    assert (again.state, again.attempts, again.retried_by) == ("pending", 0, "engineer@msp.test")
    assert again.last_error == "HTTP 503"  # kept until an attempt succeeds
    event = EvidenceEvent.objects.get(kind="delivery.retried")
    assert event.subject_id == str(message.uuid) and event.payload["event"] == "wave.deploy"
    deliver_outbox(in_tenant_a)
    again.refresh_from_db()
    assert (again.state, again.attempts, again.last_error) == ("delivered", 1, "")
    assert len(rmm.calls_for(message.idempotency_key)) == hook.max_attempts + 1


def test_only_a_dead_call_is_sent_again(hook):
    message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="e")
    with pytest.raises(Exception, match="given up"):
        outbox.retry_message(message=message, actor="someone")
    message.refresh_from_db()
    assert (
        message.state == "pending"
        and not EvidenceEvent.objects.filter(kind="delivery.retried").exists()
    )


def test_a_call_whose_webhook_was_removed_is_dead_and_stays_so(in_tenant_a, hook, rmm):
    message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="f")
    hook.delete()
    deliver_outbox(in_tenant_a)
    message.refresh_from_db()
    assert (message.state, message.last_error) == ("dead", "The RMM webhook was removed.")
    assert outbox.retry_refusal(message) == "The RMM webhook of this call was removed."
    assert rmm.calls == []


def test_the_sweep_finds_lost_deliveries_only(hook):
    now = timezone.now()
    grace = timedelta(minutes=10)
    fresh = WebhookConnector(hook).enqueue("wave.deploy", {}, key="fresh")
    lost = WebhookConnector(hook).enqueue("wave.deploy", {}, key="lost")
    overdue = WebhookConnector(hook).enqueue("wave.deploy", {}, key="overdue")
    stuck = WebhookConnector(hook).enqueue("wave.deploy", {}, key="stuck")
    waiting = WebhookConnector(hook).enqueue("wave.deploy", {}, key="waiting")
    OutboxMessage.objects.filter(pk=lost.pk).update(updated_at=now - grace)
    OutboxMessage.objects.filter(pk=overdue.pk).update(
        state="failed_retrying", next_attempt_at=now - grace, attempts=1
    )
    OutboxMessage.objects.filter(pk=stuck.pk).update(
        state="delivering", last_attempt_at=now - timedelta(hours=1), attempts=2
    )
    OutboxMessage.objects.filter(pk=waiting.pk).update(
        state="failed_retrying", next_attempt_at=now + grace, updated_at=now - grace
    )
    assert set(outbox.stale_messages(at=now)) == {lost, overdue, stuck}
    with mock.patch.object(outbox.current_app, "send_task", autospec=True) as send:
        summary = outbox.requeue_stale(at=now)
    assert summary == {"requeued": 1 + 1, "dead": 1}  # the stuck one had used its 2 attempts
    assert sorted(c.kwargs["args"][0] for c in send.call_args_list) == sorted([lost.pk, overdue.pk])
    stuck.refresh_from_db()
    assert (stuck.state, stuck.last_error) == ("dead", "The last attempt was interrupted.")
    assert set(outbox.stale_messages(at=now)) == set()  # requeued ones wait another period
    fresh.refresh_from_db()
    assert fresh.state == "pending"


def test_the_beat_sweeps_each_client_with_a_lost_delivery(hook, tenant_a, tenant_b):
    message = WebhookConnector(hook).enqueue("wave.deploy", {}, key="g")
    OutboxMessage.objects.filter(pk=message.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    with mock.patch.object(tasks.sweep_outbox, "apply_async", autospec=True) as send:
        result = tasks.dispatch_outbox_sweep()
    assert "tenant-a" in result["sent"] and "tenant-b" not in result["sent"]
    assert send.call_count == len(result["sent"])
    entry = BEAT["integrations.dispatch_outbox_sweep"]
    assert entry["task"] == "integrations.dispatch_outbox_sweep"
    with tenant_context(tenant_b):
        assert not OutboxMessage.objects.exists()


def test_a_dead_call_goes_to_the_corrected_url_when_sent_again(in_tenant_a, hook, rmm, personas):
    with rmm_server() as gone:
        closed = gone.url
    RmmWebhook.objects.filter(pk=hook.pk).update(url=closed)
    hook.refresh_from_db()
    message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="h")
    for _ in range(hook.max_attempts):
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=None)
        deliver_outbox(in_tenant_a)
    message.refresh_from_db()
    assert message.state == "dead" and message.target == closed
    RmmWebhook.objects.filter(pk=hook.pk).update(url=rmm.url)  # the admin fixes the URL
    outbox.retry_message(message=message, actor=personas.msp_admin)
    deliver_outbox(in_tenant_a)
    message.refresh_from_db()
    assert (message.state, message.target) == ("delivered", rmm.url)
    assert len(rmm.calls) == 1


def test_an_unreachable_broker_does_not_undo_the_change(hook, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(
            outbox.current_app, "send_task", autospec=True, side_effect=ConnectionError("down")
        ) as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = WebhookConnector(hook).enqueue("wave.deploy", {"wave": "w"}, key="i")
    assert send.call_count == 1
    message.refresh_from_db()
    assert message.state == "pending"  # the sweep queues it once it is overdue
