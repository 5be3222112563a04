"""The team's own numbers against a hand-worked week (tenant A, Chicago, CDT = UTC−5).

Last week (Mon 2026-05-25 → Mon 2026-06-01, Chicago): twenty devices report a missing critical
update on Thursday 10:00 (every window — 24, 48 or 72 hours — has passed by Monday); a
technician opens a ticket in the PSA on Saturday (after hours).

This week (Mon 2026-06-01 → Mon 2026-06-08):

* Tue 10:00 a technician opens a ticket in the PSA (business hours).
* Tue 22:30 the canary wave deploys; at 22:50 one install fails: a failure-rate breach halts the
  rollout and opens a breach ticket (after hours).
* Wed 10:00 the engineer resumes the rollout: the breach ticket is resolved by them, 11 h 10 min
  after it was opened. At 11:00 the canary's other devices report the update installed.
* Wed 21:00 a failed runbook check opens a ticket (after hours); Thu 09:00 the PSA's member
  closes it (ConnectWise callback): 12 h.
* Thu 11:00 the owner signs an exception for one Mac's finding, expiring 30 days later.
* Sat 10:00 a technician opens a ticket in the PSA (weekend: after hours).
"""

from __future__ import annotations

import copy
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.template.loader import render_to_string
from django_tenants.utils import tenant_context

from dashboard.digest import send_weekly_digest
from dashboard.weekly import week_bounds, week_figures, weekly_review
from findings.models import Finding
from integrations.models import PsaTicket
from integrations.services import open_ticket
from reports.builders import monthly_compliance
from rings.choices import RolloutSelection, WaveState
from rings.models import Wave
from rings.services import (
    approve_wave,
    assign_rings,
    create_rollout,
    evaluate_rollout,
    resume_rollout,
)
from tenants.choices import StaffRole
from tenants.models import Client, User
from tests.exceptions_register.factories import make_active
from tests.integrations import psa_servers as ps
from tests.integrations.test_psa_connectors import (
    SETTINGS,
    _night_ticket,
    connect,
    deliver_all,
)
from tests.producers import maintenance_window, office
from tests.rings.helpers import report_jobs

pytestmark = pytest.mark.django_db

REPORTED = datetime(2026, 5, 28, 15, 0, tzinfo=UTC)  # Thu 10:00 CDT, last week
PSA_SATURDAY_LAST = datetime(2026, 5, 30, 16, 0, tzinfo=UTC)  # Sat 11:00 CDT
PSA_TUESDAY = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # Tue 10:00 CDT
NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)  # Tue 22:30 CDT
BREACH = NIGHT + timedelta(minutes=20)  # Tue 22:50 CDT
RESUMED = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)  # Wed 10:00 CDT
VERIFIED = datetime(2026, 6, 3, 16, 0, tzinfo=UTC)  # Wed 11:00 CDT
RUNBOOK = datetime(2026, 6, 4, 2, 0, tzinfo=UTC)  # Wed 21:00 CDT
PSA_CLOSED = datetime(2026, 6, 4, 14, 0, tzinfo=UTC)  # Thu 09:00 CDT
SIGNED = datetime(2026, 6, 4, 16, 0, tzinfo=UTC)  # Thu 11:00 CDT
PSA_SATURDAY = datetime(2026, 6, 6, 15, 0, tzinfo=UTC)  # Sat 10:00 CDT
WEEK_END = datetime(2026, 6, 8, 5, 0, tzinfo=UTC)  # Mon 00:00 CDT
AFTER = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _inbound(http, conn, row: dict) -> None:
    body, headers = ps.connectwise_callback(row, SETTINGS["connectwise"]["webhook_secret"])
    url = f"/clients/tenant-a/api/v1/psa-connections/{conn.uuid}/inbound/"
    answer = http.post(url, body, content_type="application/json", **headers)
    assert answer.status_code == 200, answer.content


def _psa_ticket(http, conn, server, ticket_id: int, at: datetime) -> None:
    _night_ticket("connectwise", server, ticket_id, at)
    with time_machine.travel(at + timedelta(minutes=5), tick=False):
        _inbound(http, conn, server.tickets[ticket_id])


def test_weekly_figures_against_a_hand_worked_week(tenant_a, tenant_b, personas, http, login):
    with ps.psa_server("connectwise") as server:
        # --- last week -------------------------------------------------------------------
        with tenant_context(tenant_a), time_machine.travel(REPORTED, tick=False):
            fleet = office()
            conn = connect("connectwise", server, personas.engineer)
            maintenance_window()
            assign_rings()
            assert Finding.objects.count() == 20  # one critical finding per device
        _psa_ticket(http, conn, server, 7001, PSA_SATURDAY_LAST)

        # --- this week -------------------------------------------------------------------
        _psa_ticket(http, conn, server, 7002, PSA_TUESDAY)
        with tenant_context(tenant_a):
            with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
                rollout = create_rollout(
                    name="June KB",
                    actor=personas.engineer,
                    selection=RolloutSelection.PATCH_IDENTIFIERS,
                    patch_identifiers=["KB5030001"],
                )
                evaluate_rollout(rollout=rollout)
            wave = Wave.objects.select_related("ring", "rollout").get(
                rollout=rollout, ring__key="canary"
            )
            approve_wave(wave=wave, user=personas.engineer)
            with time_machine.travel(NIGHT, tick=False):
                evaluate_rollout(rollout=rollout)
            wave.refresh_from_db()
            assert wave.state == WaveState.DEPLOYING
            with time_machine.travel(BREACH, tick=False):
                canary_installs = report_jobs(wave, fail=1)
                assert evaluate_rollout(rollout=rollout) == ["wave.halted"]
            breach = PsaTicket.objects.get(category="breach")
        with time_machine.travel(BREACH + timedelta(minutes=1), tick=False):
            deliver_all(tenant_a)
        with tenant_context(tenant_a):
            with time_machine.travel(RESUMED, tick=False):
                resume_rollout(rollout=rollout, user=personas.engineer, reason="Disk freed")
            with time_machine.travel(VERIFIED, tick=False):
                fleet.verify_wave(wave)
            with time_machine.travel(RUNBOOK, tick=False):
                runbook = open_ticket(
                    category="runbook", summary="Runbook check failed: line-of-business app"
                )
        with time_machine.travel(RUNBOOK + timedelta(minutes=1), tick=False):
            deliver_all(tenant_a)
        with tenant_context(tenant_a):
            runbook.refresh_from_db()
            assert runbook.external_id
        row = copy.deepcopy(server.tickets[int(runbook.external_id)])
        closed = SETTINGS["connectwise"]["closed_status_ref"]
        row["status"] = {"id": int(closed), "name": ">Closed"}
        row.update(closedFlag=True, closedBy="jsmith")
        with time_machine.travel(PSA_CLOSED, tick=False):
            _inbound(http, conn, row)
        with tenant_context(tenant_a), time_machine.travel(SIGNED, tick=False):
            mac = Finding.objects.get(asset__hostname="mac-01")
            make_active(
                client=tenant_a,
                approver=personas.owner_a,
                actor=personas.engineer,
                findings=[mac],
                assets=[],
                expires_at=SIGNED + timedelta(days=30),
            )
        _psa_ticket(http, conn, server, 7003, PSA_SATURDAY)

        with tenant_context(tenant_a):
            breach.refresh_from_db()
            runbook.refresh_from_db()
            assert breach.resolved_by == "engineer@msp.test" and breach.closed_at == RESUMED
            assert runbook.resolved_by == "jsmith" and runbook.closed_at == PSA_CLOSED
            canary_hosts = set(wave.results.values_list("asset__hostname", flat=True))
        assert "mac-01" not in canary_hosts

    # --- the week, worked by hand ------------------------------------------------------------
    start, end = week_bounds(tenant_a, date(2026, 6, 3))
    assert (start, end) == (WEEK_END - timedelta(days=7), WEEK_END)
    breach_hours = (RESUMED - BREACH).total_seconds() / 3600  # 11 h 10 min
    runbook_hours = 12.0
    compliant = (canary_installs - 1) + 1  # verified canary devices + the excepted Mac
    # The review reads the weekly rollups: none yet, so the weeks are marked missing.
    with time_machine.travel(AFTER, tick=False):
        empty = weekly_review([tenant_a], start.date())
        assert empty.rows[0].this.missing and empty.rows[0].this.compliance_pct is None
        assert (
            'data-testid="weekly-missing"'
            in login(personas.engineer).get("/weekly-review/?week=2026-06-03").content.decode()
        )
        # Back-filled by the command (the hourly task writes them the same way).
        out = io.StringIO()
        call_command("weekly_rollups", "--since", "2026-05-25", "--until", "2026-06-03", stdout=out)
        assert "tenant-a week of 2026-06-01: final" in out.getvalue()
        review = weekly_review(
            Client.objects.filter(pk__in=[tenant_a.pk, tenant_b.pk]), start.date()
        )
        # The stored week is the engine's, figure for figure.
        direct = week_figures(tenant_a, start, end)
    a = next(r for r in review.rows if r.client.pk == tenant_a.pk)
    this, last = a.this, a.last
    assert not this.missing and not last.missing
    assert this == direct

    assert (this.compliant, this.in_scope) == (compliant, 20)
    assert this.compliance_pct == (Decimal(compliant) * 100 / 20).quantize(Decimal("0.01"))
    assert (last.compliant, last.in_scope, last.compliance_pct) == (0, 20, Decimal("0.00"))
    assert a.compliance_change == this.compliance_pct

    assert this.exceptions_active == 1 and last.exceptions_active == 0
    assert this.exceptions_max_aging_days == (WEEK_END - SIGNED).days == 3
    assert this.exceptions_min_days_left == (SIGNED + timedelta(days=30) - WEEK_END).days == 26

    assert (this.deployments_failed, this.deployments_attempted) == (1, canary_installs)
    assert this.failure_rate_pct == (Decimal(100) / canary_installs).quantize(Decimal("0.01"))
    assert (last.deployments_attempted, last.failure_rate_pct, a.failure_rate_change) == (
        0,
        None,
        None,
    )

    # After hours: the breach (22:50), the runbook ticket (21:00), Saturday's PSA ticket; not
    # Tuesday's 10:00 one. Last week: its Saturday ticket.
    assert this.after_hours_tickets == 3 and last.after_hours_tickets == 1
    assert a.after_hours_change == 2

    assert this.time_to_fix.count == 2
    assert this.time_to_fix.median_hours == round((breach_hours + runbook_hours) / 2, 2)
    assert this.time_to_fix_by_engineer["engineer@msp.test"].hours == pytest.approx((breach_hours,))
    assert this.time_to_fix_by_engineer["jsmith"].median_hours == runbook_hours
    assert last.time_to_fix.count == 0 and a.time_to_fix_change is None

    # Across the MSP: tenant B had an empty week, so the sums are tenant A's.
    assert (review.msp.this.compliant, review.msp.this.in_scope) == (compliant, 20)
    assert review.msp.this.after_hours_tickets == 3
    engineers = {e.engineer: e for e in review.engineers}
    assert set(engineers) == {"engineer@msp.test", "jsmith"}
    assert engineers["jsmith"].this.count == 1 and engineers["jsmith"].last.count == 0
    assert [c.pk for c, _ in engineers["jsmith"].by_client] == [tenant_a.pk]

    # --- the page ----------------------------------------------------------------------------
    with time_machine.travel(AFTER, tick=False):
        page = login(personas.engineer).get("/weekly-review/?week=2026-06-03")
        assert page.status_code == 200
        body = page.content.decode()
        assert 'data-testid="weekly-row-tenant-a"' in body and "jsmith" in body
        assert f"{this.compliance_pct:.2f} %" in body
        assert login(personas.account_manager).get("/weekly-review/").status_code == 403
        assert login(personas.owner_a).get("/weekly-review/").status_code == 403
        bad = login(personas.engineer).get("/weekly-review/?week=next-tuesday")
        assert bad.status_code == 400 and "is not a date" in bad.content.decode()
        assert login(personas.engineer).get("/weekly-review/?week=9999-12-31").status_code == 400

    # --- the Monday digest: the week just ended, once -------------------------------------------
    cache.delete("dashboard:weekly-digest:2026-06-01")
    mail.outbox.clear()
    staff = set(
        User.objects.filter(
            is_active=True, staff_role__in=[StaffRole.MSP_ADMIN, StaffRole.ENGINEER]
        ).values_list("email", flat=True)
    )
    assert {"admin@msp.test", "engineer@msp.test"} <= staff
    with time_machine.travel(AFTER, tick=False):
        assert send_weekly_digest(at=AFTER) == len(staff)
        assert send_weekly_digest(at=AFTER) == 0  # the week is sent once
    assert {m.to[0] for m in mail.outbox} == staff and len(mail.outbox) == len(staff)
    digest = mail.outbox[0]
    assert digest.subject == "PatchOps weekly review, week of 2026-06-01"
    assert f"Alpha Clinic: compliance {this.compliance_pct:.2f} %" in digest.body
    assert "after-hours tickets 3 (change 2)" in digest.body
    assert "jsmith: 1 fixed, median 12.0 h" in digest.body
    assert "/weekly-review/?week=2026-06-01" in digest.body
    cache.delete("dashboard:weekly-digest:2026-06-01")

    # --- the threshold and the monthly report ---------------------------------------------------
    admin = login(personas.msp_admin)
    url = "/clients/tenant-a/sla-policy/"
    with tenant_context(tenant_a):
        from findings.policy import get_policy

        assert get_policy().failure_rate_threshold_pct is None
    for bad_value in ("abc", "101", "-1", "NaN"):
        answer = admin.post(url, {"failure_rate_threshold_pct": bad_value})
        assert answer.status_code == 400, bad_value
    with tenant_context(tenant_a):
        assert get_policy().failure_rate_threshold_pct is None  # nothing written
    assert admin.post(url, {"failure_rate_threshold_pct": "50"}).status_code == 302
    with tenant_context(tenant_a):
        assert get_policy().failure_rate_threshold_pct == Decimal("50.00")
        _, context = monthly_compliance(tenant_a, date(2026, 6, 1))
        assert (context["deployments_failed"], context["deployments_attempted"]) == (
            1,
            canary_installs,
        )
        assert context["widen_windows"] is None  # 1 of ≥3 is at most 33 %
    assert admin.post(url, {"failure_rate_threshold_pct": "10"}).status_code == 302
    with tenant_context(tenant_a):
        template, context = monthly_compliance(tenant_a, date(2026, 6, 1))
        advice = context["widen_windows"]
        assert advice["failure_rate"] == this.failure_rate_pct
        assert advice["threshold"] == Decimal("10.00")
        html = render_to_string(template, context)
        assert 'data-recommendation="widen-windows"' in html
        assert "consider widening this client" in html
