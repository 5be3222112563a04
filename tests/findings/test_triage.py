"""Triage and manual remediation of findings opened by ingest: "not applicable" and "false
positive" need a reason and the approval of an MSP admin other than the requester, both steps
are evidence events on the finding, approved ones leave open work and are reported apart from
verified fixes; a fix done by hand stays open until an inventory shows it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from compliance import engine
from evidence.models import EvidenceEvent
from findings.choices import FindingState, TriageKind, TriageState
from findings.models import Finding, FindingTriage
from reports.builders import monthly_compliance
from tests.mfa import sign_in
from tests.producers import office, push

BASE = "/clients/tenant-a/"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
D = timedelta(days=1)


def session(user):
    return sign_in(HttpClient(), user)


def act(http, action, findings, **data):
    body = {"action": action, "finding": [str(f.uuid) for f in findings], **data}
    return http.post(BASE + "findings/actions/", body)


def decide(http, triage, decision, note=""):
    return http.post(
        BASE + f"findings/triage/{triage.uuid}/decide/", {"decision": decision, "note": note}
    )


def events(kind, finding):
    return list(
        EvidenceEvent.objects.filter(kind=kind, subject_id=str(finding.uuid)).order_by("sequence")
    )


@pytest.fixture
def fleet(tenant_a):
    with tenant_context(tenant_a), time_machine.travel(NOW - 5 * D, tick=False):
        yield office("KB5068791", severity="critical")


@pytest.mark.django_db
def test_not_applicable_needs_a_reason_and_another_admin(fleet, tenant_a, personas):
    engineer, admin = session(personas.engineer), session(personas.msp_admin)
    with tenant_context(tenant_a):
        macs = [f for f in fleet.findings if f.patch_identifier == fleet.MAC_PATCH]
        linux = [f for f in fleet.findings if f.patch_identifier == fleet.LINUX_PATCH]
    with time_machine.travel(NOW, tick=False):
        assert act(engineer, "not_applicable", macs).status_code == 400  # no reason
        assert (
            act(engineer, "not_applicable", macs, **{"not_applicable-reason": "  "}).status_code
            == 400
        )
        with tenant_context(tenant_a):
            assert not FindingTriage.objects.exists()
        reason = "Kiosk Macs run a frozen image the vendor manages"
        assert (
            act(engineer, "not_applicable", macs, **{"not_applicable-reason": reason}).status_code
            == 302
        )
        # Asked is not closed: still open work, listed and counted.
        page = engineer.get(BASE + "findings/").content.decode()
        assert all(str(f.uuid) in page for f in macs)
        assert (
            act(engineer, "not_applicable", macs, **{"not_applicable-reason": reason}).status_code
            == 400
        )
        with tenant_context(tenant_a):
            pending = list(FindingTriage.objects.filter(state=TriageState.PENDING))
            assert sorted(t.finding_id for t in pending) == sorted(f.pk for f in macs)
            assert all(Finding.objects.get(pk=f.pk).state == FindingState.OPEN for f in macs)
        first = pending[0]
        # An engineer does not approve; a rejection needs a note; the admin approves.
        assert decide(engineer, first, "approve").status_code == 403
        assert decide(admin, first, "reject").status_code == 400
        assert decide(admin, first, "maybe").status_code == 400
        assert decide(admin, first, "approve", "Confirmed with the vendor").status_code == 302
        assert decide(admin, first, "approve").status_code == 400  # already decided

        # Nobody approves their own request: the admin asks, the admin may not approve.
        assert (
            act(
                admin, "false_positive", linux[:1], **{"false_positive-reason": "Backported fix"}
            ).status_code
            == 302
        )
        with tenant_context(tenant_a):
            own = FindingTriage.objects.get(finding=linux[0])
        assert decide(admin, own, "approve").status_code == 403
        with tenant_context(tenant_a):
            assert Finding.objects.get(pk=linux[0].pk).state == FindingState.OPEN

    with tenant_context(tenant_a):
        closed = Finding.objects.get(pk=first.finding_id)
        assert closed.state == FindingState.NOT_APPLICABLE and closed.verified_at is None
        requested = events("finding.triage_requested", closed)
        approved = events("finding.triage_approved", closed)
        assert len(requested) == 1 and len(approved) == 1
        assert requested[0].actor == personas.engineer.email
        assert approved[0].payload["requested_by"] == personas.engineer.email
        assert approved[0].payload["approved_by"] == personas.msp_admin.email
        assert approved[0].payload["reason"] == reason
        assert requested[0].sequence < approved[0].sequence
    with time_machine.travel(NOW + D, tick=False):
        detail = engineer.get(BASE + f"findings/{closed.uuid}/").content.decode()
        assert 'data-testid="finding-closed-by"' in detail and reason in detail
        assert personas.msp_admin.email in detail
        assert "Triage approved" in detail or "Closed as not applicable" in detail
        listing = engineer.get(BASE + "findings/").content.decode()
        assert str(closed.uuid) not in listing
        with tenant_context(tenant_a):
            # Neither open/overdue work nor a verified fix.
            outstanding = {f.pk for f in engine.outstanding_at(NOW + D)}
            assert closed.pk not in outstanding
            _, context = monthly_compliance(tenant_a, date(2026, 3, 1))
            assert dict(context["triage_counts"]) == {TriageKind.NOT_APPLICABLE.label: 1}
            assert [t.finding_id for t in context["triaged"]] == [closed.pk]
            assert closed.pk not in [f.pk for f in context["top_remediated"]]


@pytest.mark.django_db
def test_manual_fix_stays_open_until_an_inventory_shows_it(fleet, tenant_a, personas):
    engineer = session(personas.engineer)
    with tenant_context(tenant_a):
        device = next(d for d in fleet.devices if d.hostname == "ws-01")
        finding = next(f for f in fleet.findings if f.asset.hostname == "ws-01")
    with time_machine.travel(NOW, tick=False):
        assert act(engineer, "manual", [finding]).status_code == 400  # what was done?
        what = "Installed the MSU by hand over RDP"
        assert act(engineer, "manual", [finding], **{"manual-what": what}).status_code == 302
        with tenant_context(tenant_a):
            finding.refresh_from_db()
            assert finding.state == FindingState.DEPLOYED and finding.verified_at is None
            (fixed,) = events("finding.manually_remediated", finding)
            assert fixed.actor == personas.engineer.email and fixed.payload["what"] == what
        # An explicit check against the stored inventory: the KB is not in it yet.
        assert act(engineer, "check", [finding]).status_code == 302
        with tenant_context(tenant_a):
            finding.refresh_from_db()
            assert finding.state == FindingState.DEPLOYED
            (check,) = events("finding.check_requested", finding)
            assert check.payload["verified"] is False
    with time_machine.travel(NOW + D, tick=False), tenant_context(tenant_a):
        push(device.install_kb(fleet.patch))
        finding.refresh_from_db()
        assert finding.state == FindingState.VERIFIED and finding.verified_at == NOW + D
        (verified,) = events("finding.verified", finding)
        assert fleet.patch in verified.payload["proof"]
        assert verified.payload["from_state"] == FindingState.DEPLOYED
