"""A rollout through canary, pilot and production with the clock moved by time-machine."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from evidence.models import EvidenceEvent
from findings.choices import FindingState
from integrations.models import AgentJob
from rings.choices import DeploymentStatus, RolloutSelection, RolloutState, WaveState
from rings.models import Wave
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from tests.producers import maintenance_window, office
from tests.rings.helpers import pass_runbook, report_jobs

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 10:00 in Chicago (CST, UTC-6).
MONDAY = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def wave(rollout, key) -> Wave:
    return Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring__key=key)


def run_wave(traveller, fleet, rollout, key, approver) -> Wave:
    """Approve, wait for the 22:00 window, deploy, verify, runbook, soak; returns the wave."""
    w = wave(rollout, key)
    evaluate_rollout(rollout=rollout)
    w.refresh_from_db()
    assert w.state == WaveState.AWAITING
    approve_wave(wave=w, user=approver)
    assert evaluate_rollout(rollout=rollout) == []  # approved but the window is closed
    # Move to tonight's window (22:00 local).
    local = datetime.now(UTC).astimezone(rollout_tz())
    opening = local.replace(hour=22, minute=30, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    traveller.move_to(opening)
    changes = evaluate_rollout(rollout=rollout)
    assert "wave.promoted" in changes, changes
    if "wave.snapshots_requested" in changes:
        # Critical members: the wave waits in pre-checks until their snapshots are confirmed.
        assert "wave.deploying" not in changes
        assert report_jobs(w, action="snapshot") >= 1
        changes = evaluate_rollout(rollout=rollout)
    assert "wave.deploying" in changes, changes
    w.refresh_from_db()
    assert w.state == WaveState.DEPLOYING
    # Critical assets would have needed a confirmed snapshot first.
    assert not w.results.filter(needs_snapshot=True, snapshot_confirmed_at__isnull=True).exists()
    assert report_jobs(w) == w.results.count()
    evaluate_rollout(rollout=rollout)
    w.refresh_from_db()
    assert w.state == WaveState.VERIFYING
    assert w.deployed_at and w.verifying_at
    findings = rollout.findings.filter(asset__in=w.results.values("asset"))
    assert set(findings.values_list("state", flat=True)) == {FindingState.DEPLOYED}
    assert set(w.results.values_list("status", flat=True)) == {DeploymentStatus.DEPLOYED}
    traveller.shift(timedelta(hours=6))
    fleet.verify_wave(w)
    evaluate_rollout(rollout=rollout)
    w.refresh_from_db()
    assert w.state == WaveState.SOAKING
    assert set(w.results.values_list("status", flat=True)) == {DeploymentStatus.VERIFIED}
    pass_runbook(w)
    traveller.shift(w.ring.soak - timedelta(minutes=1))
    evaluate_rollout(rollout=rollout)
    w.refresh_from_db()
    assert w.state == WaveState.SOAKING  # one minute before the soak ends
    traveller.shift(timedelta(minutes=2))
    evaluate_rollout(rollout=rollout)
    w.refresh_from_db()
    assert w.state == WaveState.PASSED
    return w


def rollout_tz():
    from django.db import connection

    return connection.tenant.tz


def test_rollout_moves_through_three_rings(in_tenant_a, personas):
    with time_machine.travel(MONDAY, tick=False) as traveller:
        fleet = office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="March critical",
            actor=personas.engineer,
            selection=RolloutSelection.CRITICAL_FOR_OS,
            os_family="windows",
        )
        windows_assets = [a for a in fleet.assets if a.os_family == "windows"]
        assert rollout.findings.count() == len(windows_assets)

        run_wave(traveller, fleet, rollout, "canary", personas.engineer)
        assert wave(rollout, "pilot").state == WaveState.AWAITING
        run_wave(traveller, fleet, rollout, "pilot", personas.engineer)
        # Production needs the client owner; the core server needs its snapshot first.
        prod = wave(rollout, "production")
        approve_wave(wave=prod, user=personas.owner_a)
        local = datetime.now(UTC).astimezone(rollout_tz())
        traveller.move_to(local.replace(hour=22, minute=30) + timedelta(days=1))
        changes = evaluate_rollout(rollout=rollout)
        assert "wave.promoted" in changes and "wave.deploying" not in changes
        prod.refresh_from_db()
        assert prod.state == WaveState.PRECHECKS
        snapshots = AgentJob.objects.filter(wave=prod, action="snapshot")
        critical = prod.results.filter(needs_snapshot=True)
        assert snapshots.count() == critical.count() >= 1
        assert set(critical.values_list("restart_mode", flat=True)) <= {"automated", "manual"}
        report_jobs(prod, action="snapshot")
        changes = evaluate_rollout(rollout=rollout)
        assert "wave.deploying" in changes
        report_jobs(prod)
        evaluate_rollout(rollout=rollout)
        traveller.shift(timedelta(hours=2))
        fleet.verify_wave(prod)
        evaluate_rollout(rollout=rollout)
        prod.refresh_from_db()
        assert prod.state == WaveState.SOAKING
        pass_runbook(prod)
        traveller.shift(prod.ring.soak + timedelta(minutes=1))
        changes = evaluate_rollout(rollout=rollout)
        assert changes == ["wave.passed", "rollout.completed"]

    rollout.refresh_from_db()
    assert rollout.state == RolloutState.COMPLETED
    assert set(rollout.findings.values_list("state", flat=True)) == {FindingState.VERIFIED}
    kinds = list(EvidenceEvent.objects.values_list("kind", flat=True))
    assert kinds.count("wave.promoted") == 3
    assert kinds.count("wave.approved") == 3
    assert kinds.count("wave.passed") == 3
    assert "rollout.created" in kinds and "rollout.completed" in kinds
    assert "snapshot.confirmed" in kinds
    # Ring order is respected: each promotion follows the previous ring's pass.
    promoted = list(rollout.waves.order_by("order").values_list("promoted_at", "passed_at"))
    for (_, passed), (next_promoted, _) in zip(promoted, promoted[1:], strict=False):
        assert passed < next_promoted


def test_wave_that_missed_its_window_catches_up_in_the_next(in_tenant_a, personas):
    with time_machine.travel(MONDAY, tick=False) as traveller:
        office()
        maintenance_window(weekdays=[6], start_time="02:00")  # Sundays 02:00–06:00
        assign_rings()
        rollout = create_rollout(
            name="KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        canary = wave(rollout, "canary")
        first_window = canary.window_start
        # Not approved while the window passes: the wave only looks at the next one.
        traveller.move_to(first_window + timedelta(days=1))
        assert evaluate_rollout(rollout=rollout) == ["wave.rescheduled"]
        canary.refresh_from_db()
        assert not canary.caught_up and canary.window_start > first_window
        # Approved, but no evaluation runs during the next window (workers down): caught up.
        approve_wave(wave=canary, user=personas.engineer)
        second_window = canary.window_start
        traveller.move_to(canary.window_end + timedelta(hours=1))
        assert evaluate_rollout(rollout=rollout) == ["wave.caught_up"]
        canary.refresh_from_db()
        # 2026-03-08 is the spring-forward Sunday: 02:00 does not exist and the window opened at
        # 03:00 CDT; the next Sundays open at 02:00 CDT.
        assert first_window == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
        assert second_window == datetime(2026, 3, 15, 7, 0, tzinfo=UTC)
        assert canary.caught_up
        assert canary.window_start == datetime(2026, 3, 22, 7, 0, tzinfo=UTC)
        assert "catches up" in canary.notes[-1]["note"]
        traveller.move_to(canary.window_start + timedelta(minutes=5))
        assert "wave.promoted" in evaluate_rollout(rollout=rollout)
        canary.refresh_from_db()
        assert canary.state == WaveState.DEPLOYING and canary.caught_up


def test_offline_device_catches_up_in_the_next_window(in_tenant_a, personas):
    with time_machine.travel(MONDAY, tick=False) as traveller:
        office()
        maintenance_window(weekdays=[6], start_time="02:00")
        assign_rings()
        rollout = create_rollout(
            name="KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        canary = wave(rollout, "canary")
        approve_wave(wave=canary, user=personas.engineer)
        traveller.move_to(canary.window_start + timedelta(minutes=5))
        assert "wave.deploying" in evaluate_rollout(rollout=rollout)
        jobs = list(
            AgentJob.objects.filter(wave=canary, action="install").order_by("asset__hostname")
        )
        assert len(jobs) >= 3
        offline = jobs[0]
        # Everybody but the offline device polls its job and reports.
        from integrations.services import claim_agent_jobs, record_job_result

        for job in jobs[1:]:
            assert claim_agent_jobs(agent_id=job.agent_id) == [job]
            record_job_result(
                job=job,
                actor="agent",
                payload={"agent_id": job.agent_id, "status": "succeeded", "dry_run": False},
            )
        traveller.move_to(canary.window_end + timedelta(hours=1))
        assert evaluate_rollout(rollout=rollout) == ["wave.caught_up"]
        offline.refresh_from_db()
        assert offline.status == "expired"
        retry = AgentJob.objects.get(wave=canary, asset=offline.asset, status="queued")
        assert retry.not_before == datetime(2026, 3, 15, 7, 0, tzinfo=UTC)  # after the DST change
        result = canary.results.get(asset=offline.asset)
        assert result.caught_up and result.status == DeploymentStatus.PENDING
        canary.refresh_from_db()
        assert canary.caught_up and "catch up" in canary.notes[-1]["note"]


def test_asset_without_a_window_waits_and_is_sent_once_one_applies(in_tenant_a, personas):
    from rings.models import Ring
    from rings.services import pin_asset

    with time_machine.travel(MONDAY, tick=False) as traveller:
        fleet = office()
        maintenance_window(scope="asset_class", asset_class="workstation")
        assign_rings()
        server = next(a for a in fleet.assets if a.hostname == "fs-01")
        pin_asset(asset=server, ring=Ring.objects.get(key="canary"), actor=personas.engineer)
        rollout = create_rollout(
            name="KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        canary = wave(rollout, "canary")
        approve_wave(wave=canary, user=personas.engineer)
        traveller.move_to(canary.window_start + timedelta(minutes=5))
        evaluate_rollout(rollout=rollout)  # promoted; the server's snapshot is requested
        report_jobs(canary, action="snapshot")
        assert "wave.deploying" in evaluate_rollout(rollout=rollout)
        canary.refresh_from_db()
        result = canary.results.get(asset=server)
        assert result.window_end is None and "no maintenance window" in result.message.lower()
        assert not AgentJob.objects.filter(wave=canary, asset=server, action="install").exists()
        assert "no maintenance window" in canary.notes[-1]["note"]
        maintenance_window()  # a client-wide window now covers everybody
        assert "wave.caught_up" in evaluate_rollout(rollout=rollout)
        job = AgentJob.objects.get(wave=canary, asset=server, action="install")
        assert job.not_before is not None
