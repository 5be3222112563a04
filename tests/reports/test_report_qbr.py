"""The QBR executive summary of the October clinic: a quarter (August – October 2026), its
weekly trend from the engine, risks reduced and exceptions in plain language."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from reports.builders import quarter_bounds, trend_instants
from reports.models import ReportKind
from tests.evidence.pdftext import assert_running_header, report_pages
from tests.reports.scenario import assert_rollouts_section, at

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def qbr(october_clinic):
    pages = report_pages(october_clinic["client"], ReportKind.QBR, OCTOBER)
    return pages, " ".join(pages)


def test_qbr_is_short_with_every_section_and_the_running_header(qbr):
    pages, text = qbr
    assert 2 <= len(pages) <= 3
    assert_running_header(pages, "Riverbend Clinic", "2026-08 – 2026-10")
    for heading in (
        "QBR executive summary",
        "At a glance",
        "Compliance score and its trend",
        "Top risks reduced this quarter",
        "Approved exceptions and their expiry dates",
    ):
        assert heading in text, heading
    assert "(1 Aug 2026 – 31 Oct 2026, America/Chicago)" in text
    assert "This summary covers August – October 2026;" in text


def test_the_quarter_is_three_calendar_months_and_q4_is_named(october_clinic):
    client = october_clinic["client"]
    start, end, _ = quarter_bounds(client, OCTOBER)
    assert (start, end) == (at(8, 1, 5), at(11, 1, 5))  # 1 Aug 00:00 CDT – 1 Nov 00:00 CDT
    # The QBR of December covers Q4: 1 Oct 00:00 CDT – 1 Jan 00:00 CST.
    from datetime import UTC, datetime

    q4 = quarter_bounds(client, date(2026, 12, 1))[:2]
    assert q4 == (at(10, 1, 5), datetime(2027, 1, 1, 6, tzinfo=UTC))


def test_headline_and_trend_come_from_one_engine_reading(qbr, october_clinic):
    pages, text = qbr
    # Headline: 5 of 8 (see the monthly report); the per-OS figures stand beside it.
    assert "62.50 % Compliance score (5 of 8 systems)" in pages[0]
    assert "Windows 3 5 1 60.00 % macOS 0 1 0 0.00 % Linux 2 2 0 100.00 %" in pages[0]
    # The trend: one point per week end of the quarter while systems existed, then the headline.
    # 6 Sep (Mon 7 Sep 00:00 CDT): all 8 reported on 1 Sep, nothing overdue → 100 %.
    # 4 Oct: rc-win-05 silent since 20 Sep (> 14 days), F7 overdue since 1 Oct → 6 of 8 = 75 %.
    # 18 Oct: F3 overdue since 17 Oct too → 5 of 8; F4 (22 Oct) is excepted → 62.5 % to the end.
    with tenant_context(october_clinic["client"]):
        instants = trend_instants(at(8, 1, 5), at(11, 1, 5), october_clinic["client"].tz)
    assert len(instants) == 14 and instants[0] == at(8, 3, 5) and instants[-1] == at(11, 1, 5)
    chart = text.split("Compliance score and its trend")[1]
    for point in ("100 % 06 Sep", "100 % 27 Sep", "75 % 04 Oct", "75 % 11 Oct",
                  "62.5 % 18 Oct", "62.5 % 31 Oct"):  # fmt: skip
        assert point in chart, point
    assert "09 Aug" not in chart  # no system yet: no point, not a 0 %
    assert "That is down 37.50 points from 100.00 % on 6 September." in text
    # SLA over the quarter: F1, F5 met; F2, F3, F4 and F7 (due 1 Oct 00:00Z) missed → 2 of 6.
    assert (
        "2 of the 6 updates that fell due this quarter were installed and confirmed on time" in text
    )
    assert "1 system sent no update list for 14 days" in text
    assert "No critical update is waiting." in text


def test_qbr_speaks_plainly_about_risks_reduced_and_exceptions(qbr):
    _, text = qbr
    assert (
        "2 critical Windows updates closed on 2 ePHI systems; 1 fixed a flaw attackers are "
        "known to exploit (CISA KEV)."
    ) in text
    assert "1 medium Linux update closed on 1 system." in text
    assert "Critical 2 1 d 22 h 2 d 18 h" in text  # durations in days and hours
    assert "PSA-4711 rc-win-srv Extra monitoring, Network segmentation 11" in text
    assert "30 November 2026 09:00 CST (29 days left)" in text
    assert "rc-win-05 Windows Workstation 2026-09-19 19:00 CDT" in text


def test_qbr_lists_the_quarter_rollouts(qbr):
    _, text = qbr
    assert "Update rollouts this quarter" in text
    assert_rollouts_section(text)
