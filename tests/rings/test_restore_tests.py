"""Restore tests of critical systems: scheduled and recorded on the Restore tests page, a wave
held while a critical member lacks a passing one within the client's days, and the HIPAA pack's
list of the period's tests. Waves move through the rings services and the agents' job results."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from evidence.models import EvidenceEvent
from inventory.models import Asset
from reports.models import ReportKind
from reports.services import render_report
from rings.choices import ApproverRole, RolloutSelection, WaveState
from rings.models import RestoreTest, RestoreTestRule, Wave
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from tests.evidence.pdftext import pdf_pages
from tests.producers import maintenance_window, office
from tests.rings.test_rollout_flow import run_wave

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/restore-tests/"
# Monday 2026-03-02 10:00 in Chicago (CST, UTC-6).
MONDAY = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def _local(at: datetime) -> str:
    return at.astimezone(connection.tenant.tz).strftime("%Y-%m-%dT%H:%M")


def _schedule(http, asset: Asset, day: date, what: str) -> RestoreTest:
    response = http.post(
        PAGE,
        {"action": "schedule", "asset": str(asset.uuid), "scheduled_for": day, "what": what},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return RestoreTest.objects.get(asset=asset, what=what)


def _record(http, test: RestoreTest, outcome: str, performed_at: datetime, url: str):
    return http.post(
        PAGE,
        {
            "action": "record",
            "test": str(test.uuid),
            "outcome": outcome,
            "performed_at": _local(performed_at),
            "performed_by": "Dana Reyes",
            "evidence_url": url,
            "note": "Booted the restored VM and opened the share.",
        },
    )


def _held_wave(traveller, fleet, rollout, critical: Asset, personas) -> Wave:
    """Pass every wave before the critical system's ring; return its wave, approved and inside
    tonight's window."""
    ring = critical.ring_membership.ring
    for w in rollout.waves.select_related("ring").order_by("order"):
        if w.ring_id == ring.pk:
            break
        run_wave(traveller, fleet, rollout, w.ring.key, personas.engineer)
    held = Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring=ring)
    evaluate_rollout(rollout=rollout)
    held.refresh_from_db()
    assert held.state == WaveState.AWAITING
    approver = personas.owner_a if ring.approver_role == ApproverRole.CLIENT_OWNER else None
    approve_wave(wave=held, user=approver or personas.engineer)
    local = datetime.now(UTC).astimezone(connection.tenant.tz)
    opening = local.replace(hour=22, minute=30, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    traveller.move_to(opening)
    return held


def test_wave_blocked_by_a_missing_restore_test(in_tenant_a, personas, login, tenant_a):
    # Only an MSP admin sets the rule; an engineer may not.
    rule = {"action": "rule", "max_age_days": "30", "gate_waves": "on"}
    assert login(personas.engineer).post(PAGE, rule).status_code == 403
    assert not RestoreTestRule.objects.exists()
    assert login(personas.msp_admin).post(PAGE, rule).status_code == 302
    assert RestoreTestRule.objects.get().gate_waves is True
    engineer = login(personas.engineer)
    with time_machine.travel(MONDAY, tick=False) as traveller:
        fleet = office()
        maintenance_window()
        assign_rings()
        fs = Asset.objects.select_related("asset_class").get(hostname="fs-01")
        assert fs.asset_class.is_critical
        page = engineer.get(PAGE).content.decode()
        assert f'data-testid="system-{fs.uuid}" data-state="never"' in page
        # Every other critical system (core servers, do-not-disrupt PCs) passed one last night.
        others = Asset.objects.filter(asset_class__is_critical=True).exclude(pk=fs.pk)
        assert others.filter(hostname__startswith="dnd-").count() == 2
        last_night = MONDAY - timedelta(hours=12)
        for asset in others:
            test = _schedule(engineer, asset, last_night.date(), f"{asset.hostname} image")
            assert (
                _record(engineer, test, "passed", last_night, "https://ev.test/o").status_code
                == 302
            )

        rollout = create_rollout(
            name="March KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=[fleet.patch],
        )
        held = _held_wave(traveller, fleet, rollout, fs, personas)
        changes = evaluate_rollout(rollout=rollout)
        assert "wave.promoted" not in changes
        held.refresh_from_db()
        assert held.state == WaveState.AWAITING
        event = EvidenceEvent.objects.get(kind="wave.restore_test_missing")
        assert event.subject_id == str(held.uuid)
        assert event.payload["assets"] == ["fs-01"] and event.payload["max_age_days"] == 30
        assert "fs-01" in held.notes[-1]["note"] and "30 days" in held.notes[-1]["note"]
        # Evaluated again: still held, the refusal is recorded once.
        assert "wave.promoted" not in evaluate_rollout(rollout=rollout)
        assert EvidenceEvent.objects.filter(kind="wave.restore_test_missing").count() == 1

        now = datetime.now(UTC)
        # A passing test older than the rule's 30 days does not count.
        old = _schedule(engineer, fs, (now - timedelta(days=32)).date(), "Full VM from Veeam")
        assert (
            _record(
                engineer, old, "passed", now - timedelta(days=31), "https://ev.test/1"
            ).status_code
            == 302
        )
        assert "wave.promoted" not in evaluate_rollout(rollout=rollout)
        # Nor does a recent failed one.
        failed = _schedule(engineer, fs, now.date(), "File share from last night's backup")
        assert (
            _record(
                engineer, failed, "failed", now - timedelta(hours=3), "https://ev.test/2"
            ).status_code
            == 302
        )
        assert "wave.promoted" not in evaluate_rollout(rollout=rollout)
        held.refresh_from_db()
        assert held.state == WaveState.AWAITING

        good = _schedule(engineer, fs, now.date(), "File share restored to a test host")
        response = _record(engineer, good, "passed", now - timedelta(hours=1), "https://ev.test/3")
        assert response.status_code == 302
        page = engineer.get(PAGE).content.decode()
        assert f'data-testid="system-{fs.uuid}" data-state="ok"' in page
        assert "wave.promoted" in evaluate_rollout(rollout=rollout)
        held.refresh_from_db()
        assert held.state in (WaveState.PRECHECKS, WaveState.DEPLOYING)

    recorded = EvidenceEvent.objects.filter(
        kind="restore_test.recorded", payload__hostname="fs-01"
    ).order_by("sequence")
    assert [e.payload["outcome"] for e in recorded] == ["passed", "failed", "passed"]
    assert recorded.last().payload["performed_by"] == "Dana Reyes"
    assert recorded.last().actor == personas.engineer.email
    scheduled = EvidenceEvent.objects.filter(kind="restore_test.scheduled")
    assert scheduled.count() == 3 + others.count()

    # The HIPAA pack of March lists the month's three restore tests, with who and the evidence.
    tenant_a.is_hipaa = True
    tenant_a.save(update_fields=["is_hipaa"])
    with time_machine.travel(datetime(2026, 4, 2, 12, 0, tzinfo=UTC), tick=False):
        text = " ".join(pdf_pages(render_report(tenant_a, ReportKind.HIPAA, date(2026, 3, 1))))
    assert "Restore tests in the period" in text
    start = datetime(2026, 3, 1, tzinfo=tenant_a.tz)
    performed = RestoreTest.objects.filter(performed_at__gte=start, performed_at__month=3)
    # The 31-day-old test of fs-01 was done in February.
    assert performed.count() == 2 + others.count()
    assert f"{performed.count()} restore tests of critical systems were done" in text
    for test in performed:
        assert test.what in text
    assert "Full VM from Veeam" not in text
    assert "https://ev.test/3" in text.replace(" ", "") and "Dana Reyes" in text


def test_restore_test_bad_input_changes_nothing(in_tenant_a, personas, login):
    office()
    fs = Asset.objects.get(hostname="fs-01")
    ws = Asset.objects.get(hostname="ws-01")
    assert not ws.asset_class.is_critical
    before = EvidenceEvent.objects.count()
    day = date.today()
    body = {"action": "schedule", "asset": str(fs.uuid), "scheduled_for": day, "what": "VM"}
    assert login(personas.viewer_a).post(PAGE, body).status_code == 403
    assert admin_rule_rejects(login(personas.msp_admin))
    engineer = login(personas.engineer)
    for bad in (
        {**body, "asset": str(ws.uuid)},  # not a critical system
        {**body, "what": ""},
        {**body, "scheduled_for": "2026-13-45"},
        {**body, "action": "nonsense"},
    ):
        response = engineer.post(PAGE, bad)
        assert response.status_code == 400, bad
        assert 'data-testid="errors"' in response.content.decode()
    assert not RestoreTest.objects.exists()
    assert EvidenceEvent.objects.count() == before
    test = _schedule(engineer, fs, day, "VM")
    now = datetime.now(UTC)
    assert _record(engineer, test, "passed", now, "not a link").status_code == 400
    assert (
        _record(engineer, test, "passed", now + timedelta(days=2), "https://e.test/").status_code
        == 400
    )
    assert _record(engineer, test, "maybe", now, "https://e.test/").status_code == 400
    test.refresh_from_db()
    assert test.outcome == "scheduled" and test.performed_at is None
    assert _record(engineer, test, "passed", now, "https://e.test/").status_code == 302
    assert _record(engineer, test, "failed", now, "https://e.test/").status_code == 400
    test.refresh_from_db()
    assert test.outcome == "passed"


def admin_rule_rejects(admin) -> bool:
    for days in ("0", "731", "x", ""):
        assert admin.post(PAGE, {"action": "rule", "max_age_days": days}).status_code == 400
    return not RestoreTestRule.objects.exists()
