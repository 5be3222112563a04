import pytest
from django_tenants.utils import tenant_context

from evidence.models import GENESIS_HASH, EvidenceEvent
from inventory.models import DiscoverySchedule
from inventory.services import update_discovery_schedule

pytestmark = pytest.mark.django_db


def _change(actor, hour: int) -> EvidenceEvent:
    update_discovery_schedule(schedule=DiscoverySchedule.current(), actor=actor, local_hour=hour)
    return EvidenceEvent.objects.order_by("-sequence").first()


def test_events_chain_by_hash(in_tenant_a, personas):
    first = _change(personas.engineer, 3)
    second = _change(None, 4)
    assert first.sequence == 1 and first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and second.sequence == 2
    assert first.actor == "engineer@msp.test" and second.actor == "system"
    assert first.payload == {"before": {"local_hour": 2}, "after": {"local_hour": 3}}
    for event in EvidenceEvent.objects.all():
        assert event.compute_hash() == event.hash


def test_each_client_has_its_own_chain(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        _change("system", 3)
    with tenant_context(tenant_b):
        assert EvidenceEvent.objects.count() == 0
        assert _change("system", 3).prev_hash == GENESIS_HASH
