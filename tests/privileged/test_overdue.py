"""Overdue rotations and reviews: one issue per account and due date, resolved by the rotation
or review, their own SLA; patch findings and compliance never see them."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.models import Finding
from privileged import services, tasks
from privileged.choices import IssueKind, IssueState
from privileged.models import PrivilegedAccountIssue
from privileged.schedule import BEAT
from tenants.choices import TokenScope
from tests.privileged.helpers import API, BASE, register, session
from tests.producers import reported_finding

pytestmark = pytest.mark.django_db


def _opened():
    return list(EvidenceEvent.objects.filter(kind="privileged_issue.opened").order_by("sequence"))


def test_beat_entry_names_the_dispatcher_and_it_fans_out(tenant_a, tenant_b):
    assert {entry["task"] for entry in BEAT.values()} == {"privileged.dispatch_overdue"}
    with mock.patch.object(tasks.detect_overdue, "apply_async", autospec=True) as detect:
        result = tasks.dispatch_overdue()
    assert result["clients"] >= 2 and detect.call_count == result["clients"]


def test_an_overdue_rotation_is_one_issue_however_often_detection_runs(
    tenant_a, personas, make_token, api
):
    today = timezone.localdate(timezone=tenant_a.tz)
    with tenant_context(tenant_a):
        account = register(
            tenant_a, personas.engineer, last_rotated_on=today - timedelta(days=95),
            last_reviewed_on=today,
        )  # fmt: skip
        grace = services.register_settings().grace_days
        due = account.last_rotated_on + timedelta(days=account.rotation_interval_days)
        assert tasks.detect_overdue()["opened"] == 1
        assert tasks.detect_overdue()["opened"] == 0
        [issue] = PrivilegedAccountIssue.objects.all()
        assert (issue.kind, issue.due_on, issue.state) == (IssueKind.ROTATION_OVERDUE, due, "open")
        assert issue.resolve_by == due + timedelta(days=grace)
        [opened] = _opened()
        assert opened.payload["account"] == str(account.uuid)
    listing = session(personas.viewer_a).get(BASE)
    assert listing.context["counts"].open_issues == 1
    assert [i.pk for i in listing.context["issues"]] == [issue.pk]
    _, plaintext = make_token(TokenScope.WRITE, client=tenant_a)
    rotated = api(plaintext).post(
        f"{API}{account.uuid}/rotate/", {"note": "rotated in the vault"},
        content_type="application/json",
    )  # fmt: skip
    assert rotated.status_code == 200, rotated.content
    assert rotated.json()["open_issues"] == 0
    with tenant_context(tenant_a):
        issue.refresh_from_db()
        assert issue.state == IssueState.RESOLVED and issue.resolution == "credential rotated"
        [resolved] = EvidenceEvent.objects.filter(kind="privileged_issue.resolved")
        assert resolved.payload["uuid"] == str(issue.uuid)
        kinds = list(
            EvidenceEvent.objects.filter(kind__startswith="privileged").order_by("sequence")
            .values_list("kind", flat=True)
        )  # fmt: skip
        assert kinds[-2:] == ["privileged_account.rotated", "privileged_issue.resolved"]
        assert tasks.detect_overdue()["opened"] == 0
        assert PrivilegedAccountIssue.objects.filter(state="open").count() == 0


def test_a_review_past_its_interval_and_grace_breaches_the_sla(tenant_a, personas):
    today = timezone.localdate(timezone=tenant_a.tz)
    with tenant_context(tenant_a):
        services.set_grace_days(client=tenant_a, actor=personas.msp_admin, grace_days=3)
        account = register(
            tenant_a, personas.engineer, kind="service", last_rotated_on=today,
            last_reviewed_on=today - timedelta(days=200),
        )  # fmt: skip
        tasks.detect_overdue()
        [issue] = PrivilegedAccountIssue.objects.all()
        due = account.last_reviewed_on + timedelta(days=account.review_interval_days)
        assert (issue.kind, issue.resolve_by) == (IssueKind.REVIEW_OVERDUE, due + timedelta(3))
        assert services.register_settings().grace_days == 3
        assert EvidenceEvent.objects.filter(kind="privileged.grace_changed").count() == 1
    home = session(personas.engineer).get("/clients/tenant-a/")
    assert home.context["privileged"].open_issues == 1
    assert home.context["privileged"].past_sla == (1 if issue.resolve_by < today else 0)


def test_a_break_glass_use_makes_a_rotation_due(tenant_a, personas):
    today = timezone.localdate(timezone=tenant_a.tz)
    with tenant_context(tenant_a):
        account = register(
            tenant_a, personas.engineer, kind="break_glass", last_rotated_on=today - timedelta(3),
            last_reviewed_on=today,
        )  # fmt: skip
        assert services.detect_overdue(today=today) == 0
        services.record_use(account=account, actor=personas.engineer, note="INC-4711 outage")
        with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
            assert tasks.detect_overdue()["opened"] == 1
        [issue] = PrivilegedAccountIssue.objects.all()
        assert (issue.kind, issue.due_on) == (IssueKind.ROTATION_OVERDUE, today)


def test_overdue_accounts_leave_patch_findings_and_compliance_alone(tenant_a, personas):
    today = timezone.localdate(timezone=tenant_a.tz)
    with tenant_context(tenant_a):
        reported_finding(kb="KB5030001")
        findings_before = list(Finding.objects.values_list("uuid", "state", "due_at"))
    engineer = session(personas.engineer)
    before = engineer.get("/clients/tenant-a/").context
    counts_before = before["finding_counts"]
    ratio_before = before["compliance"].client
    with tenant_context(tenant_a):
        register(
            tenant_a, personas.engineer, last_rotated_on=today - timedelta(days=400),
            last_reviewed_on=today - timedelta(days=400),
        )  # fmt: skip
        assert tasks.detect_overdue()["opened"] == 2
        assert list(Finding.objects.values_list("uuid", "state", "due_at")) == findings_before
    after = engineer.get("/clients/tenant-a/").context
    assert after["finding_counts"] == counts_before
    assert after["compliance"].client == ratio_before
    assert after["privileged"].open_issues == 2


def test_disabling_an_account_resolves_its_issues(tenant_a, personas):
    today = timezone.localdate(timezone=tenant_a.tz)
    with tenant_context(tenant_a):
        long_ago = today - timedelta(days=200)
        account = register(
            tenant_a, personas.engineer, last_rotated_on=long_ago, last_reviewed_on=long_ago
        )
        tasks.detect_overdue()
        open_count = PrivilegedAccountIssue.objects.filter(state="open").count()
        assert open_count == 2
    response = session(personas.engineer).post(
        f"{BASE}{account.uuid}/disable/", {"reason": "replaced by a named admin"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert not PrivilegedAccountIssue.objects.filter(state="open").exists()
        resolved = EvidenceEvent.objects.filter(kind="privileged_issue.resolved")
        assert resolved.count() == open_count
        assert tasks.detect_overdue()["opened"] == 0
