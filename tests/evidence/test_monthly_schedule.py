from datetime import UTC, date, datetime
from unittest import mock

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import StoredReport
from evidence.periods import previous_month
from evidence.reports import due_for_monthly, monthly_kinds
from evidence.schedule import BEAT
from evidence.tasks import dispatch_monthly_reports, generate_monthly_reports
from tenants.models import Client

pytestmark = pytest.mark.django_db


def _clients(*zones):
    return [Client(slug=z.split("/")[-1].lower(), name=z, timezone=z) for z in zones]


def test_auckland_reaches_the_first_before_chicago():
    auckland, chicago = _clients("Pacific/Auckland", "America/Chicago")
    # 30 Nov 11:30 UTC = 1 Dec 00:30 in Auckland (NZDT, UTC+13) = 30 Nov 05:30 in Chicago.
    due = due_for_monthly(datetime(2026, 11, 30, 11, 30, tzinfo=UTC), [auckland, chicago])
    assert due == [(auckland, date(2026, 11, 1))]
    # 1 Dec 06:30 UTC = 1 Dec 00:30 in Chicago (CST, UTC-6); Auckland is on the 1st still (19:30).
    due = due_for_monthly(datetime(2026, 12, 1, 6, 30, tzinfo=UTC), [auckland, chicago])
    assert due == [(auckland, date(2026, 11, 1)), (chicago, date(2026, 11, 1))]
    # 2 Dec 00:30 UTC: Auckland is on the 2nd, Chicago on the 1st (18:30).
    due = due_for_monthly(datetime(2026, 12, 2, 0, 30, tzinfo=UTC), [auckland, chicago])
    assert due == [(chicago, date(2026, 11, 1))]


def test_january_reports_december_of_the_year_before():
    assert previous_month(date(2027, 1, 1)) == date(2026, 12, 1)
    assert previous_month(datetime(2026, 3, 1, 0, 5)) == date(2026, 2, 1)


def test_dispatch_is_hourly_in_beat():
    entry = BEAT["evidence-dispatch-monthly-reports"]
    assert entry["task"] == "evidence.dispatch_monthly_reports"
    assert entry["schedule"].minute == {7} and len(entry["schedule"].hour) == 24


def test_dispatcher_queues_only_clients_on_their_first(tenant_a, tenant_b):
    with mock.patch("evidence.tasks.generate_monthly_reports.apply_async", autospec=True) as queue:
        # 30 Nov 23:30 UTC: 1 Dec in Berlin (tenant B), 30 Nov in Chicago (tenant A).
        with time_machine.travel(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), tick=False):
            assert dispatch_monthly_reports() == {"queued": ["tenant-b"]}
        queue.assert_called_once_with(kwargs={"period": "2026-11"})
        with time_machine.travel(datetime(2026, 12, 1, 6, 30, tzinfo=UTC), tick=False):
            assert dispatch_monthly_reports() == {"queued": ["tenant-a", "tenant-b"]}


def test_monthly_generation_is_idempotent_and_dispatch_skips_done_clients(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        first = generate_monthly_reports(period="2026-11")
        assert first == {
            "client": "tenant-a",
            "period": "2026-11",
            "generated": monthly_kinds(tenant_a),
        }
        assert set(first["generated"]) == {
            "monthly",
            "hipaa",
            "qbr",
            "inventory",
            "exceptions",
            "bundle",
        }
        assert first["generated"][-1] == "bundle"
        second = generate_monthly_reports(period="2026-11")
        assert second["generated"] == []
        assert StoredReport.objects.filter(period=date(2026, 11, 1)).count() == 6
    with (
        mock.patch("evidence.tasks.generate_monthly_reports.apply_async", autospec=True) as queue,
        time_machine.travel(datetime(2026, 12, 1, 6, 30, tzinfo=UTC), tick=False),
    ):
        assert dispatch_monthly_reports() == {"queued": ["tenant-b"]}
    assert queue.call_count == 1


def test_hipaa_kind_is_only_scheduled_for_hipaa_clients(monkeypatch, tenant_a, tenant_b):
    from evidence import reports

    monkeypatch.setitem(reports.REPORT_BUILDERS, "hipaa", lambda client, period: ("x", {}))
    assert "hipaa" in monthly_kinds(tenant_a) and "hipaa" not in monthly_kinds(tenant_b)
    assert monthly_kinds(tenant_a)[-1] == "bundle"


def test_a_running_monthly_generation_is_not_started_twice(tenant_a):
    from common.locks import held_lock

    with tenant_context(tenant_a), held_lock("evidence:monthly-reports:2026-11") as held:
        assert held
        result = generate_monthly_reports(period="2026-11")
        assert result["skipped"] == "running" and not StoredReport.objects.exists()
