"""A client owner's home lists the rollouts waiting for their approval, in plain words, and
nothing once they approved; other roles' homes do not list them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from rings.choices import RolloutSelection, WaveState
from rings.models import Ring, Wave
from rings.services import (
    approve_wave,
    awaiting_approval_by,
    create_rollout,
    evaluate_rollout,
    pin_asset,
)
from tests.producers import Device, maintenance_window, push

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)  # inside the nightly window in Chicago


@pytest.fixture
def production_wave(in_tenant_a, personas):
    """Two servers pinned into the production ring miss KB5031111: canary and pilot hold no
    device needing it (skipped), so the rollout's production wave waits for the owner."""
    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
        servers = [Device(f"srv-{n}", os="windows_server") for n in (1, 2)]
        push([s.missing_kb("KB5031111", severity="high") for s in servers])
        maintenance_window()
        production = Ring.objects.get(key="production")
        for server in servers:
            pin_asset(asset=server.asset, ring=production, actor=personas.engineer)
        rollout = create_rollout(
            name="June servers",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5031111"],
        )
        for _ in range(4):
            evaluate_rollout(rollout=rollout)
    wave = Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring=production)
    assert wave.state == WaveState.AWAITING
    return wave


def test_the_owner_sees_the_waiting_production_wave_until_approving_it(
    production_wave, personas, login
):
    assert [w.pk for w in awaiting_approval_by("client_owner")] == [production_wave.pk]
    assert awaiting_approval_by("engineer") == []
    owner = login(personas.owner_a)
    home = owner.get("/clients/tenant-a/").content.decode()
    assert 'data-testid="approval-item"' in home
    assert "June servers: your MSP asks to install KB5031111 on the Production ring" in home
    assert f"/clients/tenant-a/rollouts/{production_wave.rollout.uuid}/" in home

    approve_wave(wave=production_wave, user=personas.owner_a)
    home = owner.get("/clients/tenant-a/").content.decode()
    assert 'data-testid="approval-item"' not in home
    assert "No rollout is waiting for your approval." in home


def test_staff_and_viewers_homes_do_not_list_owner_approvals(production_wave, personas, login):
    for persona in (personas.engineer, personas.viewer_a):
        home = login(persona).get("/clients/tenant-a/").content.decode()
        assert 'data-testid="overview-approvals"' not in home
