"""The findings page as a work queue, fed by agents' reports through ingest: whitelisted sorts,
the group-by-patch view and its drill-down, and the actions on chosen findings end to end (a
rollout, an exception request, a PSA ticket), with who may act."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from findings.choices import FindingState
from findings.models import Finding
from integrations.choices import TicketCategory, TicketStatus
from integrations.models import PsaTicket
from rings.models import Rollout
from tests.mfa import sign_in
from tests.producers import Device, Office, office, push

BASE = "/clients/tenant-a/"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def session(user):
    return sign_in(HttpClient(), user)


def rows(html: str, testid: str, attr: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"[^>]*?data-{attr}="([^"]*)"', html)


def hosts(html: str) -> list[str]:
    return re.findall(r'data-testid="finding-host">([^ <]+)', html)


@pytest.fixture
def fleet(tenant_a):
    """The office (Windows PCs missing a critical KB, Ubuntu servers an OpenSSL update, Macs a
    macOS update) plus three PCs missing a high KB as well; reported a day before NOW."""
    with tenant_context(tenant_a), time_machine.travel(NOW - timedelta(days=1), tick=False):
        fleet = office("KB5068791", severity="critical")
        extra = [d for d in fleet.devices if d.hostname in ("ws-01", "ws-02", "ws-03")]
        for device in extra:
            device.missing_kb("KB5070001", severity="high")
        push(extra)
        yield fleet


def expected_groups(fleet: Office) -> Counter:
    counts: Counter = Counter()
    for device in fleet.devices:
        for pending in device.pending:
            counts[pending["advisory"]] += 1
    return counts


def uuids(findings) -> list[str]:
    return [str(f.uuid) for f in findings]


@pytest.mark.django_db
def test_group_by_patch_counts_drill_down_and_sorts(fleet, tenant_a, personas):
    http = session(personas.engineer)
    with time_machine.travel(NOW, tick=False):
        grouped = http.get(BASE + "findings/?group=patch").content.decode()
        groups = dict(
            zip(
                rows(grouped, "patch-group", "patch"),
                map(int, rows(grouped, "patch-group", "devices")),
                strict=True,
            )
        )
        expected = expected_groups(fleet)
        assert groups == dict(expected)
        # Most devices first by default; the biggest group reads as a sentence.
        assert list(groups) == [p for p, _ in sorted(expected.items(), key=lambda i: (-i[1], i[0]))]
        assert f"KB5068791 — missing on {expected['KB5068791']} devices" in grouped
        by_name = http.get(BASE + "findings/?group=patch&sort=patch").content.decode()
        assert rows(by_name, "patch-group", "patch") == sorted(expected)

        drilled = http.get(BASE + "findings/?patch=" + Office.LINUX_PATCH).content.decode()
        drilled_hosts = hosts(drilled)
        linux = sorted(d.hostname for d in fleet.devices if d.os == "ubuntu")
        assert sorted(drilled_hosts) == linux and set(rows(drilled, "finding-row", "patch")) == {
            Office.LINUX_PATCH
        }

        by_host = http.get(BASE + "findings/?sort=-asset").content.decode()
        with tenant_context(tenant_a):
            outstanding = Finding.objects.exclude(state=FindingState.VERIFIED).count()
        listed = hosts(by_host)
        assert len(listed) == outstanding
        assert listed == sorted(listed, reverse=True)

        for bad in ("?sort=drop%20table", "?group=patch&sort=asset", "?sort=-"):
            answer = http.get(BASE + "findings/" + bad)
            assert answer.status_code == 200
            assert 'data-testid="sort-error"' in answer.content.decode()


def post_action(http, action: str, findings=(), **data):
    body = {"action": action, "finding": uuids(findings), "next": BASE + "findings/", **data}
    return http.post(BASE + "findings/actions/", body)


@pytest.mark.django_db
def test_add_to_a_new_rollout_then_to_that_draft(fleet, tenant_a, personas):
    http = session(personas.engineer)
    with tenant_context(tenant_a):
        linux = [f for f in fleet.findings if f.patch_identifier == Office.LINUX_PATCH]
        macs = [f for f in fleet.findings if f.patch_identifier == Office.MAC_PATCH]
    with time_machine.travel(NOW, tick=False):
        answer = post_action(http, "rollout", linux, **{"rollout-name": "OpenSSL now"})
        assert answer.status_code == 302
        with tenant_context(tenant_a):
            rollout = Rollout.objects.get(name="OpenSSL now")
            assert rollout.patch_identifiers == [Office.LINUX_PATCH]
            assert sorted(uuids(rollout.findings.all())) == sorted(uuids(linux))
        # It has not started: the Macs' findings join it.
        answer = post_action(http, "rollout", macs, **{"rollout-target": str(rollout.uuid)})
        assert answer.status_code == 302
        with tenant_context(tenant_a):
            rollout.refresh_from_db()
            assert rollout.patch_identifiers == sorted([Office.LINUX_PATCH, Office.MAC_PATCH])
            assert sorted(uuids(rollout.findings.all())) == sorted(uuids(linux + macs))
            added = EvidenceEvent.objects.get(kind="rollout.findings_added")
            assert sorted(added.payload["added"]) == sorted(uuids(macs))
            detail = http.get(BASE + f"findings/{macs[0].uuid}/").content.decode()
            assert f"/rollouts/{rollout.uuid}/" in detail
        # Bad input: an unknown rollout, no finding, an unknown action: 400 and no change.
        for bad in (
            post_action(http, "rollout", linux, **{"rollout-target": "not-a-rollout"}),
            post_action(http, "rollout"),
            post_action(http, "launch-missiles", linux),
            http.post(BASE + "findings/actions/", {"action": "rollout", "finding": "x"}),
        ):
            assert bad.status_code == 400
        with tenant_context(tenant_a):
            assert Rollout.objects.count() == 1


@pytest.mark.django_db
def test_request_an_exception_and_open_a_ticket(fleet, tenant_a, personas):
    http = session(personas.engineer)
    with tenant_context(tenant_a):
        chosen = [f for f in fleet.findings if f.patch_identifier == Office.MAC_PATCH]
    with time_machine.travel(NOW, tick=False):
        missing_reason = post_action(
            http,
            "exception",
            chosen,
            **{
                "exception-ticket_reference": "T-100",
                "exception-expires_at": "2026-03-20T09:00",
                "exception-approver": str(personas.owner_a.pk),
            },
        )
        assert missing_reason.status_code == 400
        assert "reason" in missing_reason.content.decode()
        with tenant_context(tenant_a):
            assert not RiskException.objects.exists()
        answer = post_action(
            http,
            "exception",
            chosen,
            **{
                "exception-reason": "The Macs are at the vendor until the 20th",
                "exception-ticket_reference": "T-100",
                "exception-expires_at": "2026-03-20T09:00",
                "exception-approver": str(personas.owner_a.pk),
            },
        )
        assert answer.status_code == 302
        ticket_answer = post_action(http, "ticket", chosen, **{"ticket-priority": "high"})
        assert ticket_answer.status_code == 302
        assert (
            post_action(http, "ticket", chosen, **{"ticket-priority": "urgent!"}).status_code == 400
        )
    with tenant_context(tenant_a):
        exception = RiskException.objects.get()
        assert exception.state == ExceptionState.PENDING_SIGNOFF
        assert exception.approver == personas.owner_a
        assert sorted(uuids(exception.findings.all())) == sorted(uuids(chosen))
        ticket = PsaTicket.objects.get()
        assert ticket.status == TicketStatus.QUEUED and ticket.category == TicketCategory.PATCHING
        assert ticket.related["findings"] == sorted(uuids(chosen))
        assert Office.MAC_PATCH in ticket.summary and str(len(chosen)) in ticket.summary
        queued = EvidenceEvent.objects.get(kind="ticket.queued")
        assert queued.actor == personas.engineer.email


@pytest.mark.django_db
def test_readers_cannot_act_and_nothing_changes(fleet, tenant_a, personas):
    with tenant_context(tenant_a):
        chosen = fleet.findings[:2]
    for reader in (personas.viewer_a, personas.owner_a, personas.account_manager):
        http = session(reader)
        page = http.get(BASE + "findings/").content.decode()
        assert 'data-testid="finding-actions"' not in page
        assert post_action(http, "rollout", chosen).status_code == 403
        assert (
            post_action(
                http, "not_applicable", chosen, **{"not_applicable-reason": "x"}
            ).status_code
            == 403
        )
    assert session(personas.owner_b).post(BASE + "findings/actions/", {}).status_code == 404
    with tenant_context(tenant_a):
        assert not Rollout.objects.exists()
        assert not EvidenceEvent.objects.filter(kind__startswith="finding.triage").exists()


@pytest.mark.django_db
def test_cross_client_queue_shows_visible_clients_overdue_and_soon_due_criticals(
    tenant_a, tenant_b, personas
):
    """Tenant A's critical KB was reported three days ago (overdue now), tenant B's an hour ago
    (due soon); high findings, verified criticals and other clients' rows never show."""
    with tenant_context(tenant_a):
        with time_machine.travel(NOW - timedelta(days=3), tick=False):
            a_pc = Device("a-ws-01").missing_kb("KB5068791", severity="critical")
            fixed = Device("a-ws-02").missing_kb("KB5068791", severity="critical")
            high = Device("a-ws-03").missing_kb("KB5070001", severity="high")
            push([a_pc, fixed, high])
        with time_machine.travel(NOW - timedelta(days=2), tick=False):
            push(fixed.install_kb("KB5068791"))
        a_overdue = Finding.objects.get(asset__hostname="a-ws-01")
    with tenant_context(tenant_b), time_machine.travel(NOW - timedelta(hours=1), tick=False):
        push(Device("b-srv-01", os="windows_server").missing_kb("KB5068792", severity="critical"))
        b_soon = Finding.objects.get(asset__hostname="b-srv-01")

    def queue(user) -> tuple[int, str]:
        with time_machine.travel(NOW, tick=False):
            answer = session(user).get("/critical-queue/")
        return answer.status_code, answer.content.decode()

    status, engineer = queue(personas.engineer)
    assert status == 200
    listed = list(
        zip(rows(engineer, "queue-row", "client"), rows(engineer, "queue-row", "host"), strict=True)
    )
    assert ("tenant-a", "a-ws-01") in listed and ("tenant-b", "b-srv-01") in listed
    assert all(host not in {"a-ws-02", "a-ws-03"} for _, host in listed)
    assert a_overdue.due_at < NOW < b_soon.due_at
    assert listed.index(("tenant-a", "a-ws-01")) < listed.index(("tenant-b", "b-srv-01"))
    assert f"/clients/tenant-a/findings/{a_overdue.uuid}/" in engineer

    status, owner = queue(personas.owner_a)
    assert status == 200
    assert set(rows(owner, "queue-row", "client")) == {"tenant-a"}
    assert "b-srv-01" not in owner
    assert queue(personas.nobody)[1].count('data-testid="queue-row"') == 0
    assert HttpClient().get("/critical-queue/").status_code == 302
