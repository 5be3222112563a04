"""The QBR executive summary: score, trend, risks reduced and exceptions in plain language."""

from datetime import date
from decimal import Decimal

import pytest

from evidence.models import ReportKind
from evidence.reports import generate_report
from patchops import compliance
from tests.evidence.factories import OCT_END, OCT_START, seed_report_client
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def qbr(in_tenant_a, personas):
    seed_report_client(client=in_tenant_a, owner=personas.owner_a)
    report = generate_report(client=in_tenant_a, kind=ReportKind.QBR, period=OCTOBER)
    with report.file.open("rb") as fh:
        return pdf_pages(fh.read())


def test_qbr_is_short_with_every_section_and_the_running_header(qbr):
    assert 2 <= len(qbr) <= 3
    assert_running_header(qbr, "Alpha Clinic", "2026-10")
    text = " ".join(qbr)
    for heading in (
        "QBR executive summary",
        "At a glance",
        "Compliance score and its trend",
        "Top risks reduced this month",
        "Approved exceptions and their expiry dates",
    ):
        assert heading in text, heading


def test_qbr_score_and_trend_come_from_the_engine_and_the_scorecard_rows(qbr):
    text = " ".join(qbr)
    score = compliance.compliance_at(OCT_END).client
    sla = compliance.period_figures(OCT_START, OCT_END)[0]
    assert score.pct == Decimal("71.43") and sla.pct == Decimal("40.00")
    assert (
        f"{score.numerator} of your {score.denominator} managed systems had every security update "
        f"installed within the agreed time: a compliance score of {score.pct} %"
    ) in text
    # Trend from the scorecard rows of the last 90 days: 60.00 on 10 Aug → 71.43 now.
    assert "That is up 11.43 points from 60.00 % on 10 August." in text
    assert (
        "2 of the 5 updates that fell due this month were installed and confirmed on time" in text
    )
    assert "No critical update is waiting." in text
    assert "10 Aug" in text and "15 Sep" in text and "31 Oct" in text  # chart points
    assert "Windows 3 4 75.00 % macOS 0 1 0.00 % Linux 2 2 100.00 %" in text


def test_qbr_speaks_plainly_about_risks_reduced_and_exceptions(qbr):
    text = " ".join(qbr)
    assert (
        "2 critical Windows updates closed on 2 ePHI systems; 1 fixed a flaw attackers are "
        "known to exploit (CISA KEV)."
    ) in text
    assert "1 medium Linux update closed on 1 system." in text
    assert "PSA-4711 rc-win-srv Extra monitoring, Network segmentation 11" in text
    assert "30 November 2026 (29 days left)" in text
