"""Breaches halt and open a PSA ticket; approvals need the ring's role; runbook and rollback."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from evidence.models import EvidenceEvent
from findings.choices import FindingState
from integrations.models import AgentJob, PsaTicket
from rings.choices import DeploymentStatus, RolloutSelection, RolloutState, WaveState
from rings.models import RollbackEvent, RunbookCheck, Wave
from rings.services import (
    ApprovalRefused,
    approve_wave,
    assign_rings,
    create_rollout,
    evaluate_rollout,
    halt_rollout,
    record_rollback,
    record_runbook_check,
)
from tests.producers import maintenance_window, office
from tests.rings.helpers import report_jobs
from tests.rings.producers import person

pytestmark = pytest.mark.django_db

# Tuesday 2026-06-02 22:30 in Chicago (CDT): inside the nightly window, after business hours.
NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)


@pytest.fixture
def rollout(in_tenant_a, personas):
    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
        office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="June KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
    return rollout


def canary(rollout) -> Wave:
    return Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring__key="canary")


def deploying_canary(rollout, personas) -> Wave:
    wave = canary(rollout)
    approve_wave(wave=wave, user=personas.engineer)
    with time_machine.travel(NIGHT, tick=False):
        evaluate_rollout(rollout=rollout)
    wave.refresh_from_db()
    assert wave.state == WaveState.DEPLOYING
    return wave


def test_breach_halts_the_rollout_and_queues_a_psa_ticket(rollout, personas):
    wave = deploying_canary(rollout, personas)
    total = wave.results.count()
    assert total >= 3
    with time_machine.travel(NIGHT + timedelta(minutes=20), tick=False):
        report_jobs(wave, fail=1)  # 1 of ≥3 failed: over the canary's 10 % threshold
        assert evaluate_rollout(rollout=rollout) == ["wave.halted"]
    rollout.refresh_from_db()
    wave.refresh_from_db()
    assert rollout.state == RolloutState.HALTED and wave.state == WaveState.HALTED
    assert "over its 10.00 % threshold" in rollout.halt_reason
    ticket = PsaTicket.objects.get()
    assert ticket.category == "breach" and ticket.status == "queued"
    assert ticket.related["rollout"] == str(rollout.uuid)
    assert len(ticket.related["assets"]) == 1
    assert ticket.is_after_hours  # 22:50 in Chicago
    assert ticket.priority == "high"
    failed = wave.results.get(status=DeploymentStatus.FAILED)
    assert rollout.findings.get(asset=failed.asset).state == FindingState.FAILED
    kinds = set(EvidenceEvent.objects.values_list("kind", flat=True))
    assert {"wave.halted", "rollout.halted", "deployment.failed", "ticket.queued"} <= kinds
    # A halted rollout never moves again.
    with time_machine.travel(NIGHT + timedelta(days=5), tick=False):
        assert evaluate_rollout(rollout=rollout) == []


def test_wave_under_threshold_is_not_halted(rollout, personas):
    wave = deploying_canary(rollout, personas)
    response = person(personas.msp_admin).patch(
        f"/clients/tenant-a/api/v1/rings/{wave.ring.uuid}/",
        {"failure_threshold_pct": "50"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    with time_machine.travel(NIGHT + timedelta(minutes=20), tick=False):
        report_jobs(wave, fail=1)
        assert evaluate_rollout(rollout=rollout) == ["wave.deployed", "wave.verifying"]
    assert PsaTicket.objects.count() == 0


@pytest.mark.parametrize(
    ("ring_key", "persona", "allowed"),
    [
        ("canary", "engineer", True),
        ("canary", "msp_admin", True),
        ("canary", "owner_a", False),
        ("canary", "viewer_a", False),
        ("production", "engineer", False),
        ("production", "msp_admin", False),
        ("production", "owner_a", True),
    ],
)
def test_approval_requires_the_rings_approver_role(rollout, personas, ring_key, persona, allowed):
    wave = Wave.objects.get(rollout=rollout, ring__key=ring_key)
    user = getattr(personas, persona)
    if allowed:
        approval = approve_wave(wave=wave, user=user)
        assert approval.role in ("engineer", "msp_admin", "client_owner")
    else:
        with pytest.raises(ApprovalRefused) as exc:
            approve_wave(wave=wave, user=user)
        assert "must be approved by" in str(exc.value)
        assert not hasattr(Wave.objects.get(pk=wave.pk), "approval")


def test_second_approval_is_refused(rollout, personas):
    wave = canary(rollout)
    approve_wave(wave=wave, user=personas.engineer)
    with pytest.raises(ValidationError, match="already approved"):
        approve_wave(wave=wave, user=personas.msp_admin)


def test_wave_without_approval_is_not_promoted_in_an_open_window(rollout):
    with time_machine.travel(NIGHT, tick=False):
        assert evaluate_rollout(rollout=rollout) == []
    assert canary(rollout).state == WaveState.AWAITING


def test_failed_runbook_check_halts_when_flagged(rollout, personas):
    wave = deploying_canary(rollout, personas)
    check = RunbookCheck.objects.get(name="EHR platform access")
    record_runbook_check(
        wave=wave, check=check, passed=False, actor=personas.engineer, note="login loops"
    )
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.HALTED
    assert "EHR platform access" in rollout.halt_reason
    assert PsaTicket.objects.get().category == "runbook"
    assert AgentJob.objects.filter(wave=wave, status="cancelled").exists()


def test_failed_runbook_check_without_flag_only_records(rollout, personas):
    wave = deploying_canary(rollout, personas)
    check = RunbookCheck.objects.get(name="Local file access")
    response = person(personas.msp_admin).patch(
        f"/clients/tenant-a/api/v1/runbook-checks/{check.uuid}/",
        {"halts_on_failure": False},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    check.refresh_from_db()
    result = record_runbook_check(wave=wave, check=check, passed=False, actor=personas.engineer)
    assert result.recorded_by == "engineer@msp.test" and not result.passed
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.ACTIVE


def test_manual_halt_and_rollback_are_recorded(rollout, personas):
    wave = deploying_canary(rollout, personas)
    report_jobs(wave)
    halt_rollout(rollout=rollout, actor=personas.engineer, reason="Vendor pulled the update")
    asset = wave.results.first().asset
    event = record_rollback(
        rollout=rollout,
        wave=wave,
        actor=personas.engineer,
        what="Uninstalled KB5030001",
        outcome="succeeded",
        assets=[asset],
    )
    assert RollbackEvent.objects.get() == event and event.actor == "engineer@msp.test"
    assert wave.results.get(asset=asset).status == DeploymentStatus.ROLLED_BACK
    assert rollout.findings.get(asset=asset).state == FindingState.OPEN
    kinds = list(EvidenceEvent.objects.values_list("kind", flat=True))
    assert "rollback.recorded" in kinds and "rollout.halted" in kinds
    with pytest.raises(ValidationError):
        halt_rollout(rollout=rollout, actor=personas.engineer, reason="again")
