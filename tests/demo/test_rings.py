"""The demo seed: windows, rings, a rollout in progress and a halted one with its ticket."""

from datetime import UTC, datetime

import pytest
import time_machine

from demo.rings import seed_client
from evidence.models import EvidenceEvent
from integrations.models import PsaTicket
from rings.choices import RolloutState, WaveState
from rings.models import MaintenanceWindow, RingMembership, Rollout

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "now", [datetime(2026, 11, 27, 15, 0, tzinfo=UTC), datetime(2026, 3, 9, 9, 0, tzinfo=UTC)]
)
def test_demo_seed_tells_a_consistent_story(in_tenant_a, now):
    with time_machine.travel(now, tick=False):
        assert seed_client(in_tenant_a) == {"rollouts": 2}
    assert set(MaintenanceWindow.objects.values_list("name", flat=True)) == {
        "Patch Tuesday + 4 days",
        "Weekly Sunday 02:00",
    }
    assert not RingMembership.objects.filter(
        ring__key="canary", asset__asset_class__is_do_not_disrupt=True
    ).exists()
    active = Rollout.objects.get(state=RolloutState.ACTIVE)
    states = dict(active.waves.values_list("ring__key", "state"))
    assert states == {
        "canary": WaveState.PASSED,
        "pilot": WaveState.SOAKING,
        "production": WaveState.PENDING,
    }
    pilot = active.waves.get(ring__key="pilot")
    assert pilot.soak_ends_at > now and pilot.soak_started_at < now
    halted = Rollout.objects.get(state=RolloutState.HALTED)
    assert halted.waves.get(ring__key="canary").state == WaveState.HALTED
    ticket = PsaTicket.objects.get()
    assert ticket.category == "breach" and ticket.related["rollout"] == str(halted.uuid)
    times = list(EvidenceEvent.objects.order_by("sequence").values_list("occurred_at", flat=True))
    assert max(times) <= now
