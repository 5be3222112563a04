import pytest
from django_tenants.utils import tenant_context

from evidence.models import GENESIS_HASH, EvidenceEvent
from evidence.services import record_event

pytestmark = pytest.mark.django_db


def test_events_chain_by_hash(in_tenant_a, personas):
    first = record_event(
        kind="finding.detected",
        subject_type="finding",
        subject_id="f1",
        actor=personas.engineer,
        payload={"tier": "critical"},
    )
    second = record_event(kind="finding.verified", subject_type="finding", subject_id="f1")
    assert first.sequence == 1 and first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and second.sequence == 2
    assert first.actor == "engineer@msp.test" and second.actor == "system"
    for event in EvidenceEvent.objects.all():
        assert event.compute_hash() == event.hash


def test_each_client_has_its_own_chain(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        record_event(kind="x", subject_type="t", subject_id=1)
    with tenant_context(tenant_b):
        assert EvidenceEvent.objects.count() == 0
        assert record_event(kind="x", subject_type="t", subject_id=1).prev_hash == GENESIS_HASH
