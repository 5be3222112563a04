"""The monthly compliance report of the October clinic (tests/reports/scenario.py), whose
every input came through the real producers. Figures are worked out by hand from the script."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from reports.models import ReportKind, StoredReport
from reports.services import generate_report
from tests.evidence.pdftext import assert_running_header, pdf_pages, report_pages
from tests.reports.scenario import assert_rollouts_section

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def monthly(october_clinic):
    pages = report_pages(october_clinic["client"], ReportKind.MONTHLY, OCTOBER)
    return pages, " ".join(pages)


def _bytes(report: StoredReport) -> bytes:
    with report.file.open("rb") as fh:
        return fh.read()


def test_monthly_has_every_section_and_the_running_header(monthly):
    pages, text = monthly
    assert_running_header(pages, "Riverbend Clinic", "2026-10")
    for heading in (
        "Monthly compliance report",
        "Compliance by OS family",
        "Compliance by tier",
        "Compliance by asset class",
        "Assets not reporting",
        "SLA attainment",
        "Exceptions active with aging",
        "Time to remediate by severity",
        "Patch failure rate",
        "Top remediated risks",
    ):
        assert heading in text, heading
    # As of the end of October in Chicago (CDT until 1 November 02:00).
    assert "as of 2026-11-01 00:00 America/Chicago, the end of the period" in text
    assert "(1 Oct 2026 – 31 Oct 2026, America/Chicago)" in text


def test_headline_stands_beside_the_os_figures_and_counts_the_silent_device(monthly):
    pages, text = monthly
    # In scope: the 8 devices that ever reported a patch or package list (the adopted printer
    # never did: outside patch scope). rc-win-05 last reported 20 Sep: not reporting.
    # Compliant (reporting, no overdue un-excepted finding): rc-win-01 (F1 verified, F8 not due),
    # rc-win-02 (F2 verified), rc-win-srv (F4 overdue but excepted), rc-lnx-01 (F5 verified),
    # rc-lnx-02 (F6 not due) = 5 of 8. rc-win-03 (F3 overdue), rc-mac-01 (F7 overdue) and the
    # silent rc-win-05 count against.
    assert "62.50 % Compliance % (5 of 8 assets)" in text
    assert "1 Not reporting (no patch list for 14 days)" in text
    # The per-OS table follows the headline on the same first page.
    first = pages[0]
    assert "Windows 3 5 1 60.00 %" in first
    assert "Linux 2 2 0 100.00 %" in first and "macOS 0 1 0 0.00 %" in first
    assert "1 managed device no patch source covers is outside patch scope" in first
    # By tier, every in-scope asset is in the denominator; the silent one never counts compliant.
    for row in ("Critical 7 8 1 87.50 %", "High 6 8 1 75.00 %", "Medium 7 8 1 87.50 %",
                "Low 6 8 1 75.00 %"):  # fmt: skip
        assert row in text, row
    assert "Workstation 2 5 1 40.00 %" in text and "Core server 3 3 0 100.00 %" in text
    # The not-reporting list names the device and its last list (20 Sep 00:00Z, Chicago time).
    silent = text.split("Assets not reporting")[1].split("SLA attainment")[0]
    assert "1 asset in scope sent no patch or package list in the 14 days before" in silent
    assert "rc-win-05 Windows Workstation 2026-09-19 19:00 CDT" in silent
    assert "rc-win-03" not in silent


def test_sla_attainment_and_time_to_remediate_in_days_and_hours(monthly):
    _, text = monthly
    # Due in October (local): F1 (met), F2 (verified a day late), F3 (open), F4 (open, excepted:
    # an exception does not make a patch on time), F5 (met). F7 fell due before 1 Oct 05:00Z,
    # F6 and F8 after the month. → 2 of 5.
    assert "2 of 5 findings due in the period were verified by their due time" in text
    assert "SLA attainment 40.00 %" in text
    assert "Critical 1 2 50.00 % High 0 2 0.00 % Medium 1 1 100.00 %" in text
    # Time to remediate: critical 20 h (F1) and 72 h (F2) → median 46 h = 1 d 22 h,
    # p90 = 20 + 0.9 × 52 = 66.8 h = 2 d 18 h; medium F5 264 h = 11 d.
    assert "Critical 2 1 d 22 h 2 d 18 h" in text
    assert "Medium 1 11 d 11 d" in text


def test_exceptions_failures_and_top_risks(monthly):
    _, text = monthly
    assert "1 active exception covering 1 outstanding finding" in text
    # Signed 20 Oct 15:00Z, hard expiry 30 Nov 15:00Z; at 1 Nov 05:00Z: 11 days old, 29 left.
    assert "the oldest began 11 days ago and the next hard expiry is in 29 days" in text
    assert "PSA-4711 v1 Deferral Active" in text
    assert "owner@october.test 11 29 2026-11-30 09:00 CST" in text
    # Three rollouts through agent jobs: rc-win-01 and rc-win-02 installed, rc-win-03 failed.
    assert "1 failed of 3 attempted deployments: failure rate 33.33 %" in text
    assert "Canary 1 3 33.33 %" in text
    assert "3 findings verified as fixed in the period" in text
    top = text.split("Top remediated risks", 1)[1]
    # Critical first, by risk score: F1 62.50 (KEV), F2 61.50; then the medium F5 10.25.
    assert top.index("KB5044273") < top.index("KB5044274") < top.index("USN-6854-1")
    assert "rc-win-01 ePHI KB5044273 Critical · KEV 62.50 CVE-2024-30088" in top
    assert "2026-10-01 19:00 CDT 2026-10-02 15:00 CDT" in top  # detected, verified (Chicago)
    assert "KB5044275" not in top  # still open


def test_monthly_lists_the_period_rollouts_with_their_waves(monthly):
    _, text = monthly
    assert_rollouts_section(text)


def test_a_generated_monthly_report_never_changes(october_clinic):
    client = october_clinic["client"]
    with tenant_context(client):
        first = generate_report(client=client, kind=ReportKind.MONTHLY, period=OCTOBER)
        original = _bytes(first)
        second = generate_report(client=client, kind=ReportKind.MONTHLY, period=OCTOBER)
        assert (first.version, second.version) == (1, 2)
        stored = StoredReport.objects.get(pk=first.pk)
        assert _bytes(stored) == original and stored.sha256 == first.sha256
        assert "62.50 % Compliance % (5 of 8 assets)" in " ".join(pdf_pages(_bytes(second)))


def test_monthly_of_an_empty_client_renders_empty_states(tenant_b):
    with tenant_context(tenant_b):
        report = generate_report(client=tenant_b, kind=ReportKind.MONTHLY, period=OCTOBER)
        pages = pdf_pages(_bytes(report))
    assert_running_header(pages, "Bravo Logistics", "2026-10")
    text = " ".join(pages)
    # Berlin: October is 1 Oct 00:00 CEST – 1 Nov 00:00 CET, printed in local dates.
    assert "(1 Oct 2026 – 31 Oct 2026, Europe/Berlin)" in text
    assert "No finding was due in the period." in text and "No exception was active." in text
    assert "No assets in scope." in text
    assert "0 assets in scope sent no patch or package list" in text
    assert "No rollout was under way in the period." in text
