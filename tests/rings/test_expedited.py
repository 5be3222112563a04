"""The emergency lane: a KEV finding on a core server is due in 24 h, the rings' combined soak is
144 h; an engineer starts an expedited rollout (shortened soak, a person approves every wave,
no waiting for a maintenance window) and the finding is verified before it is due."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.models import Finding
from reports.services import render_report
from rings.selectors import rollout_rows
from tenants.choices import TokenScope
from tests.evidence.pdftext import pdf_pages
from tests.rings.conftest import MONDAY
from tests.rings.producers import BASE, advance, pass_runbook, person, rollout_body, wave_of

pytestmark = pytest.mark.django_db

KB = "KB5037771"
KEV_CVE = "CVE-2024-30051"  # in CISA KEV (Windows DWM Core Library, May 2024)
DETECTED = MONDAY + timedelta(hours=1)  # 11:00 in Chicago


@pytest.fixture
def kev(realdata):
    call_command(
        "import_kev", str(realdata / "cisa-kev/known_exploited_vulnerabilities.json"), verbosity=0
    )


def _windows(office) -> list[str]:
    return sorted(n for n, d in office["fleet"].devices.items() if d.os.startswith("windows"))


def test_expedited_rollout_meets_the_24_hour_core_server_due_time(
    kev, office, engineer, tenant_a, personas, make_token
):
    fleet = office["fleet"]
    hosts = _windows(office)
    admin = person(personas.msp_admin)
    rings = {r["key"]: r for r in admin.get(f"{BASE}rings/").json()["results"]}
    combined = sum(r["soak_hours"] for r in rings.values())
    assert combined > 24
    # The pilot promotes on its own in normal rollouts; the emergency lane still asks a person.
    admin.patch(
        f"{BASE}rings/{rings['pilot']['id']}/",
        {"approver_role": "none"},
        content_type="application/json",
    )
    with time_machine.travel(DETECTED, tick=False):
        fleet.missing(KB, *hosts, severity="high", cves=[KEV_CVE])
        fleet.push(*hosts)
    with tenant_context(tenant_a):
        server = Finding.objects.select_related("asset__asset_class").get(
            asset__hostname="fs-01", patch_identifier=KB
        )
        assert server.asset.asset_class.key == "core_server"
        assert server.is_kev and server.tier == "critical"  # raised by KEV
        assert server.due_at == DETECTED + timedelta(hours=24)  # the core-server SLA
    selection = {"selection": "patch_identifiers", "patch_identifiers": [KB]}
    start = DETECTED + timedelta(minutes=15)
    with time_machine.travel(start, tick=False):
        preview = engineer.post(
            f"{BASE}rollouts/preview/", selection, content_type="application/json"
        ).json()
        assert preview["expedite"]["eligible"] is True
        assert preview["expedite"]["combined_soak_hours"] == combined
        body = {
            "name": "KEV CVE-2024-30051 emergency",
            **selection,
            "expedite": True,
            "expedite_reason": "KEV on the file server, due in 24 h",
            "soak_hours": 2,
        }
        # API tokens and missing reasons are refused; so is a soak that does not shorten.
        _, write = make_token(TokenScope.WRITE, tenant_a, name="psa")
        token_api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {write}")
        assert (
            token_api.post(f"{BASE}rollouts/", body, content_type="application/json").status_code
            == 403
        )
        no_reason = engineer.post(
            f"{BASE}rollouts/", {**body, "expedite_reason": ""}, content_type="application/json"
        )
        assert no_reason.status_code == 400 and "expedite_reason" in no_reason.json()
        long_soak = engineer.post(
            f"{BASE}rollouts/", {**body, "soak_hours": 10}, content_type="application/json"
        )
        assert long_soak.status_code == 400 and "soak_hours" in long_soak.json()
        response = engineer.post(f"{BASE}rollouts/", body, content_type="application/json")
        assert response.status_code == 201, response.content
        rollout = response.json()
        assert rollout["expedited"] is True and rollout["expedite_soak_hours"] == 2
        assert rollout["expedite_due_at"] == "2026-06-02T16:00:00Z"
        assert [w["soak_hours"] for w in rollout["waves"]] == [2, 2, 2]
        rid = rollout["id"]
        body = advance(tenant_a, fleet, engineer, rid, "canary", ("awaiting",))
        assert wave_of(body, "canary")["window_start"] is None  # no maintenance window at all
    at = start
    for ring, approver in (("canary", engineer), ("pilot", engineer), ("production", None)):
        with time_machine.travel(at, tick=False) as clock:
            body = rollout_body(engineer, rid)
            wave = wave_of(body, ring)
            assert wave["required_approver"] is not None  # a person approves every wave
            approver = approver or person(personas.owner_a)
            response = approver.post(
                f"{BASE}rollouts/{rid}/approve/",
                {"wave": wave["id"]},
                content_type="application/json",
            )
            assert response.status_code == 200, response.content
            body = advance(tenant_a, fleet, engineer, rid, ring)  # deploys at once, verifies
            assert (
                wave_of(body, ring)["counts"]["verified"] == wave_of(body, ring)["counts"]["total"]
            )
            pass_runbook(engineer, rid, wave["id"])
            clock.shift(timedelta(hours=2, minutes=5))
            body = advance(tenant_a, fleet, engineer, rid, ring, ("passed",))
        at = _passed_at(body, ring) + timedelta(minutes=1)  # the next approver acts
    body = rollout_body(engineer, rid)
    assert body["state"] == "completed" and body["expedited"] is True
    with tenant_context(tenant_a):
        server.refresh_from_db()
        assert server.state == "verified" and server.verified_at <= server.due_at
        created = EvidenceEvent.objects.get(kind="rollout.created")
        assert created.payload["expedited"] is True and created.payload["soak_hours"] == 2
        promoted = EvidenceEvent.objects.filter(kind="wave.promoted")
        assert [e.payload["expedited"] for e in promoted] == [True, True, True]
        assert all(e.payload["automatic"] is False for e in promoted)
        [row] = rollout_rows(MONDAY, MONDAY + timedelta(days=2))
        assert row["expedited"] is True and row["expedite_reason"].startswith("KEV")
        # Every report marks the emergency lane (June 2026 in the client's zone).
        for kind in ("monthly", "hipaa", "qbr"):
            text = " ".join(pdf_pages(render_report(tenant_a, kind, date(2026, 6, 1))))
            assert "1 rollout was under way in the period, 1 of it expedited" in text, kind
            assert "Expedited" in text and "Emergency lane: KEV on the file server" in text, kind
            assert "Completed" in text, kind
    page = engineer.get("/clients/tenant-a/rollouts/").content.decode()
    assert 'data-testid="expedited"' in page and "Emergency lane: KEV on the file server" in page
    detail = engineer.get(f"/clients/tenant-a/rollouts/{rid}/").content.decode()
    assert "Created in the emergency lane (2 h soak)" in detail


def _passed_at(body: dict, ring: str) -> datetime:
    return datetime.fromisoformat(wave_of(body, ring)["passed_at"].replace("Z", "+00:00"))


def test_routine_findings_cannot_take_the_emergency_lane(office, engineer):
    fleet = office["fleet"]
    hosts = _windows(office)
    with time_machine.travel(DETECTED, tick=False):
        fleet.missing("KB5039999", *hosts, severity="medium")
        fleet.push(*hosts)
        response = engineer.post(
            f"{BASE}rollouts/",
            {
                "name": "Monthly",
                "selection": "patch_identifiers",
                "patch_identifiers": ["KB5039999"],
                "expedite": True,
                "expedite_reason": "hurry",
            },
            content_type="application/json",
        )
    assert response.status_code == 400
    assert "critical and KEV" in response.json()["expedite"][0]
