"""A wave that tests nothing is skipped, never passed; a rollout that deployed nothing is not a
success; a ring whose approver is ``none`` promotes on its own, still gated by the soak, the
failure threshold and the runbook checks. Everything through discovery, the API and agent jobs."""

from datetime import date, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.choices import FindingState
from reports.services import render_report
from rings.models import Approval, Wave
from rings.selectors import rollout_rows
from tests.evidence.pdftext import pdf_pages
from tests.rings.conftest import MONDAY
from tests.rings.producers import (
    BASE,
    advance,
    nightly_window,
    pass_runbook,
    person,
    rollout_body,
    tick,
    wave_of,
)

pytestmark = pytest.mark.django_db

KB = "KB5039212"
NIGHT = MONDAY + timedelta(hours=12, minutes=30)  # 22:30 in Chicago, inside the window


def _hosts(office, ring: str, os: str = "windows") -> list[str]:
    """Devices of one ring (by the placement the API reported) running ``os``."""
    fleet = office["fleet"]
    return sorted(
        name
        for name, device in fleet.devices.items()
        if office["rings"][name.lower()] == ring and device.os.startswith(os)
    )


def _create(engineer, **extra) -> dict:
    response = engineer.post(
        f"{BASE}rollouts/",
        {"name": "June cumulative", "selection": "patch_identifiers", "patch_identifiers": [KB]}
        | extra,
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_canary_without_a_device_needing_the_patch_is_skipped_and_pilot_deploys(
    office, engineer, tenant_a
):
    fleet = office["fleet"]
    pilot = _hosts(office, "pilot")
    production = _hosts(office, "production")
    assert pilot and production and _hosts(office, "canary")
    with time_machine.travel(MONDAY + timedelta(minutes=30), tick=False):
        nightly_window(engineer)
        fleet.missing(KB, *pilot, *production)
        fleet.push(*pilot, *production)  # ingest opens the findings
        preview = engineer.post(
            f"{BASE}rollouts/preview/",
            {"selection": "patch_identifiers", "patch_identifiers": [KB]},
            content_type="application/json",
        )
        assert preview.status_code == 200, preview.content
        rings = {r["ring"]: r for r in preview.json()["rings"]}
        assert rings["canary"]["devices"] == 0 and rings["canary"]["will_skip"]
        assert rings["pilot"]["devices"] == len(pilot)
        assert rings["production"]["devices"] == len(production)
        assert preview.json()["devices"] == len(pilot) + len(production)
        rollout = _create(engineer)
        tick(tenant_a)
        body = rollout_body(engineer, rollout["id"])
        canary = wave_of(body, "canary")
        assert canary["state"] == "skipped" and canary["passed_at"] is None
        assert canary["skipped_at"] is not None and canary["counts"]["total"] == 0
        assert wave_of(body, "pilot")["state"] == "awaiting"
        response = engineer.post(
            f"{BASE}rollouts/{rollout['id']}/approve/",
            {"wave": wave_of(body, "pilot")["id"]},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    with time_machine.travel(NIGHT, tick=False):
        # Beat ticks and agent runs: snapshots of critical members, installs, fresh inventory.
        body = advance(tenant_a, fleet, engineer, rollout["id"], "pilot")
    wave = wave_of(body, "pilot")
    assert wave["state"] == "soaking"
    assert wave["counts"]["verified"] == len(pilot) and wave["counts"]["failed"] == 0
    with tenant_context(tenant_a):
        skipped = EvidenceEvent.objects.get(kind="wave.skipped")
        assert skipped.payload["ring"] == "canary"
        assert skipped.payload["members"] == len(
            [h for h, r in office["rings"].items() if r == "canary"]
        )
        assert not EvidenceEvent.objects.filter(kind="wave.passed", payload__ring="canary").exists()
        row = next(r for r in rollout_rows(MONDAY, MONDAY + timedelta(days=2)))
        assert [w["skipped"] for w in row["waves"]] == [True, False, False]
        assert row["waves"][1]["deployed"] == len(pilot)
        # The report shows the canary as skipped, not passed, beside the pilot that deployed.
        text = " ".join(pdf_pages(render_report(tenant_a, "monthly", date(2026, 6, 1))))
        assert "Canary: skipped (nothing to test)" in text
        assert f"Pilot: soaking, {len(pilot)} / 0" in text
    page = engineer.get("/clients/tenant-a/rollouts/").content.decode()
    assert 'data-testid="wave-canary" data-state="skipped"' in page
    assert "nothing to test, so the wave is skipped" in page


def test_a_rollout_in_which_no_wave_deployed_anything_is_not_a_success(office, engineer, tenant_a):
    fleet = office["fleet"]
    target = _hosts(office, "production")[0]
    with time_machine.travel(MONDAY + timedelta(minutes=30), tick=False):
        fleet.missing(KB, target)
        fleet.push(target)
        rollout = _create(engineer)
        # Patched out of band before the rollout started: the next inventory shows the KB.
        device = fleet.devices[target]
        device.pending.pop(KB)
        device.installed.add(KB)
        fleet.push(target)
        tick(tenant_a)
    body = rollout_body(engineer, rollout["id"])
    assert body["state"] == "nothing_deployed" and body["completed_at"] is not None
    assert [w["state"] for w in body["waves"]] == ["skipped", "skipped", "skipped"]
    with tenant_context(tenant_a):
        event = EvidenceEvent.objects.get(kind="rollout.nothing_deployed")
        assert event.payload["skipped_waves"] == 3 and event.payload["deployed"] == 0
        assert not EvidenceEvent.objects.filter(kind="rollout.completed").exists()
    page = engineer.get(f"/clients/tenant-a/rollouts/{rollout['id']}/").content.decode()
    assert 'data-testid="nothing-deployed"' in page and "Ended: nothing deployed" in page


def test_ring_without_approver_promotes_on_its_own_after_soak_threshold_and_runbook(
    office, engineer, tenant_a, personas
):
    fleet = office["fleet"]
    admin = person(personas.msp_admin)
    rings = {r["key"]: r for r in admin.get(f"{BASE}rings/").json()["results"]}
    response = admin.patch(
        f"{BASE}rings/{rings['pilot']['id']}/",
        {"approver_role": "none"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert admin.get(f"{BASE}rings/{rings['pilot']['id']}/").json()["approver_role"] == "none"
    assert rings["canary"]["approver_role"] == "engineer"  # the defaults stay
    assert rings["production"]["approver_role"] == "client_owner"
    canary_hosts = _hosts(office, "canary")
    pilot_hosts = _hosts(office, "pilot")
    with time_machine.travel(MONDAY + timedelta(minutes=30), tick=False):
        nightly_window(engineer)
        fleet.missing(KB, *canary_hosts, *pilot_hosts)
        fleet.push(*canary_hosts, *pilot_hosts)
        rollout = _create(engineer)
        tick(tenant_a)
        body = rollout_body(engineer, rollout["id"])
        assert wave_of(body, "pilot")["required_approver"] is None
        refused = engineer.post(
            f"{BASE}rollouts/{rollout['id']}/approve/",
            {"wave": wave_of(body, "pilot")["id"]},
            content_type="application/json",
        )
        assert refused.status_code == 400 and "needs no approval" in str(refused.json())
        engineer.post(
            f"{BASE}rollouts/{rollout['id']}/approve/",
            {"wave": wave_of(body, "canary")["id"]},
            content_type="application/json",
        )
    with time_machine.travel(NIGHT, tick=False) as clock:
        canary = wave_of(advance(tenant_a, fleet, engineer, rollout["id"], "canary"), "canary")
        assert canary["state"] == "soaking"
        # Gate 1, the soak: an hour before it ends the pilot does not move.
        clock.shift(timedelta(hours=23))
        tick(tenant_a)
        body = rollout_body(engineer, rollout["id"])
        assert wave_of(body, "pilot")["state"] == "pending"
        # Gate 2, the runbook: the soak is over but the checks are not recorded.
        clock.shift(timedelta(hours=2))
        tick(tenant_a)
        assert wave_of(rollout_body(engineer, rollout["id"]), "canary")["state"] == "soaking"
        pass_runbook(engineer, rollout["id"], canary["id"])
        tick(tenant_a)  # the canary passes; the pilot is promoted in the open window
    body = rollout_body(engineer, rollout["id"])
    pilot = wave_of(body, "pilot")
    assert wave_of(body, "canary")["state"] == "passed"
    assert pilot["state"] in ("prechecks", "deploying") and pilot["approval"] is None
    assert pilot["promoted_at"] == wave_of(body, "canary")["passed_at"]
    with tenant_context(tenant_a):
        assert not Approval.objects.filter(wave__uuid=pilot["id"]).exists()
        promoted = EvidenceEvent.objects.get(kind="wave.promoted", payload__ring="pilot")
        assert promoted.payload["automatic"] is True
        assert promoted.payload["approved_by"] is None
        assert promoted.payload["approver_role"] == "none"
        assert promoted.actor == "system:rings"
    page = engineer.get("/clients/tenant-a/rollouts/").content.decode()
    assert "promotes on its own" in page


def test_ring_without_approver_still_waits_for_the_failure_threshold(
    office, engineer, tenant_a, personas
):
    fleet = office["fleet"]
    admin = person(personas.msp_admin)
    pilot_ring = next(
        r for r in admin.get(f"{BASE}rings/").json()["results"] if r["key"] == "pilot"
    )
    admin.patch(
        f"{BASE}rings/{pilot_ring['id']}/",
        {"approver_role": "none"},
        content_type="application/json",
    )
    canary_hosts = _hosts(office, "canary")
    pilot_hosts = _hosts(office, "pilot")
    failing = next(h for h in canary_hosts if fleet.devices[h].os == "windows")
    with time_machine.travel(MONDAY + timedelta(minutes=30), tick=False):
        nightly_window(engineer)
        fleet.missing(KB, *canary_hosts, *pilot_hosts)
        fleet.push(*canary_hosts, *pilot_hosts)
        rollout = _create(engineer)
        tick(tenant_a)
        canary = wave_of(rollout_body(engineer, rollout["id"]), "canary")
        engineer.post(
            f"{BASE}rollouts/{rollout['id']}/approve/",
            {"wave": canary["id"]},
            content_type="application/json",
        )
    with time_machine.travel(NIGHT, tick=False) as clock:
        # One workstation fails in a small canary: over its 10 % threshold.
        advance(tenant_a, fleet, engineer, rollout["id"], "canary", ("halted",), fail={failing})
        clock.shift(timedelta(days=3))
        tick(tenant_a)
    body = rollout_body(engineer, rollout["id"])
    assert body["state"] == "halted" and "threshold" in body["halt_reason"]
    assert wave_of(body, "canary")["state"] == "halted"
    assert wave_of(body, "pilot")["state"] == "pending"
    with tenant_context(tenant_a):
        assert (
            not Wave.objects.filter(uuid=wave_of(body, "pilot")["id"])
            .exclude(promoted_at=None)
            .exists()
        )
        assert rollout_findings_states(rollout["id"], canary_hosts[0]) == {FindingState.FAILED}


def rollout_findings_states(rollout_id: str, hostname: str) -> set[str]:
    from rings.models import Rollout

    rollout = Rollout.objects.get(uuid=rollout_id)
    return set(
        rollout.findings.filter(asset__hostname__iexact=hostname).values_list("state", flat=True)
    )
