"""Subscribers see each appended event of their kinds inside the appending transaction."""

import pytest
from django.db import connection, transaction

from evidence import subscribers
from evidence.models import EvidenceEvent
from inventory.models import DiscoverySchedule
from inventory.services import update_discovery_schedule

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def seen():
    calls: list[tuple[str, int, str, bool]] = []

    def handler(event):
        calls.append(
            (event.kind, event.sequence, connection.schema_name, connection.in_atomic_block)
        )

    subscribers.subscribe(["discovery.schedule_changed"], handler)
    yield calls
    subscribers.unsubscribe(["discovery.schedule_changed"], handler)


def _change(hour: int) -> None:
    update_discovery_schedule(schedule=DiscoverySchedule.current(), actor="system", local_hour=hour)


def test_a_subscriber_sees_each_event_of_its_kind_in_the_clients_schema(in_tenant_a, seen):
    _change(3)
    _change(4)
    assert [(kind, seq, schema) for kind, seq, schema, _ in seen] == [
        ("discovery.schedule_changed", 1, in_tenant_a.schema_name),
        ("discovery.schedule_changed", 2, in_tenant_a.schema_name),
    ]
    assert all(in_atomic for *_, in_atomic in seen)


def test_what_a_subscriber_sees_rolls_back_with_the_event(in_tenant_a, seen):
    with pytest.raises(RuntimeError), transaction.atomic():
        _change(5)
        assert len(seen) == 1
        raise RuntimeError("the change fails after its event")
    assert EvidenceEvent.objects.count() == 0


def test_other_kinds_are_not_handed_to_it(in_tenant_a, seen):
    assert subscribers.subscribers_of("asset.created") == []
    assert len(subscribers.subscribers_of("discovery.schedule_changed")) == 1
