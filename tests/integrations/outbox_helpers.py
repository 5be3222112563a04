"""What the Celery worker does with the outbox, for tests whose data lives in the rolled-back
test transaction (no worker can see it): the delivery task, called directly, once per due
message."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from integrations import tasks
from integrations.choices import DeliveryState
from integrations.models import OutboxMessage
from integrations.outbox import TransientDeliveryError


def deliver_outbox(client) -> list[dict]:
    """One attempt at every pending or retrying message of ``client``, oldest first."""
    outcomes = []
    with tenant_context(client):
        due = OutboxMessage.objects.filter(
            state__in=[DeliveryState.PENDING, DeliveryState.FAILED_RETRYING]
        ).order_by("pk")
        for pk in due.values_list("pk", flat=True):
            try:
                outcomes.append(tasks.deliver_outbox_message(pk))
            except TransientDeliveryError as exc:
                outcomes.append({"message": pk, "retry": str(exc)})
    return outcomes


def calls_in_every_state(client, rmm) -> dict[str, OutboxMessage]:
    """Three RMM calls of ``client`` through the real delivery against the local ``rmm``: one
    delivered, one failed once and retrying, one given up after its two attempts (dead)."""
    from integrations.connectors import WebhookConnector
    from integrations.models import RmmWebhook

    with tenant_context(client):
        hook = RmmWebhook.objects.create(name="Ninja", url=rmm.url, secret="k", max_attempts=2)
        connector = WebhookConnector(hook)
        calls = {
            state: connector.enqueue("wave.deploy", {"wave": state}, key=state)
            for state in ("delivered", "failed_retrying", "dead")
        }
    rmm.statuses = [200, 503, 503, 500]
    deliver_outbox(client)  # oldest first: 200, 503, 503
    with tenant_context(client):
        dead = calls["dead"]
        OutboxMessage.objects.filter(pk=dead.pk).update(next_attempt_at=None)
        tasks.deliver_outbox_message(dead.pk)  # its second and last attempt: 500
        for message in calls.values():
            message.refresh_from_db()
    assert {state: m.state for state, m in calls.items()} == {s: s for s in calls}
    return calls
