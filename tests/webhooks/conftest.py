"""Fixtures of the webhook tests: a local receiver, endpoints made through the service, and the
outbox worker's step (one attempt per due delivery)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context

from integrations.models import OutboxMessage
from tests.integrations.outbox_helpers import deliver_outbox
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture(autouse=True)
def _loopback_receivers(settings):
    """The receivers of these tests listen on 127.0.0.1 (allowed in development only)."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


def make_endpoint(server: Receiver, *, client, events, actor=None):
    """An endpoint through the service; the receiver learns its secret (shown once)."""
    from webhooks.services import create_endpoint

    created = create_endpoint(client=client, url=server.url, events=events, actor=actor)
    server.secrets.append(created.secret)
    return created.endpoint


def deliver(client, *, rounds: int = 1) -> list[dict]:
    """``rounds`` worker passes over ``client``'s due deliveries (a retry is due at once)."""
    outcomes: list[dict] = []
    for _ in range(rounds):
        with tenant_context(client):
            OutboxMessage.objects.filter(state="failed_retrying").update(next_attempt_at=None)
        outcomes += deliver_outbox(client)
    return outcomes
