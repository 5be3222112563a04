"""The monthly compliance report of the hand-built client (tests/evidence/factories.py)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from evidence.models import ReportKind, StoredReport
from evidence.reports import generate_report
from patchops import compliance
from tests.evidence.factories import OCT_END, OCT_START, seed_report_client
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


def _bytes(report: StoredReport) -> bytes:
    with report.file.open("rb") as fh:
        return fh.read()


@pytest.fixture
def monthly(in_tenant_a, personas):
    seed_report_client(client=in_tenant_a, owner=personas.owner_a)
    report = generate_report(client=in_tenant_a, kind=ReportKind.MONTHLY, period=OCTOBER)
    pages = pdf_pages(_bytes(report))
    return report, pages, " ".join(pages)


def test_monthly_has_every_section_and_the_running_header(monthly):
    _, pages, text = monthly
    assert_running_header(pages, "Alpha Clinic", "2026-10")
    for heading in (
        "Monthly compliance report",
        "Compliance by tier",
        "Compliance by OS family",
        "Compliance by asset class",
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


def test_monthly_compliance_by_os_family_is_the_engines_and_the_hand_count(monthly):
    _, _, text = monthly
    engine = compliance.compliance_at(OCT_END)
    # By hand, at 1 Nov 05:00Z: Windows w1, w2 fine (verified / not yet due), w4 overdue but
    # covered by the signed deferral, w3 overdue (F3) → 3 of 4. Linux l1, l2 → 2 of 2. macOS m1
    # overdue since 1 Oct (F7) → 0 of 1. The unknown scanned device is out of scope.
    hand = {"windows": (3, 4, "75.00"), "linux": (2, 2, "100.00"), "macos": (0, 1, "0.00")}
    labels = {"windows": "Windows", "linux": "Linux", "macos": "macOS"}
    assert set(engine.by_os_family) == set(hand)
    for key, (num, den, pct) in hand.items():
        ratio = engine.by_os_family[key]
        assert (ratio.numerator, ratio.denominator, ratio.pct) == (num, den, Decimal(pct))
        assert f"{labels[key]} {ratio.numerator} {ratio.denominator} {ratio.pct} %" in text
    # Client: 5 of 7 → 71.43 %; never only this blended number.
    assert engine.client.pct == Decimal("71.43")
    assert "71.43 % Compliance % (5 of 7 assets)" in text


def test_monthly_tier_and_class_rows_are_the_engines(monthly):
    _, _, text = monthly
    engine = compliance.compliance_at(OCT_END)
    # Tiers (denominator every in-scope asset): high fails on w3 only, low on m1 only.
    assert engine.by_tier["high"].pct == engine.by_tier["low"].pct == Decimal("85.71")
    for label, key in (("Critical", "critical"), ("High", "high"), ("Low", "low")):
        r = engine.by_tier[key]
        assert f"{label} {r.numerator} {r.denominator} {r.pct} %" in text
    # Classes: workstations w1, w2 fine, w3, m1 overdue → 2 of 4; core servers 3 of 3.
    assert engine.by_asset_class["workstation"].pct == Decimal("50.00")
    assert "Workstation 2 4 50.00 %" in text and "Core server 3 3 100.00 %" in text


def test_monthly_sla_attainment_is_the_engines_and_the_hand_count(monthly):
    _, _, text = monthly
    overall, by_tier, ttr = compliance.period_figures(OCT_START, OCT_END)
    # Due in October (local): F1 (met), F2 (verified late), F3 (open), F4 (open, excepted —
    # an exception does not make a patch on time), F5 (met). F7 fell due before 1 Oct 05:00Z
    # and F6, F8 after the month. → 2 of 5 = 40.00 %.
    assert (overall.numerator, overall.denominator, overall.pct) == (2, 5, Decimal("40.00"))
    assert f"SLA attainment {overall.pct} %" in text
    assert "2 of 5 findings due in the period were verified by their due time" in text
    assert "Critical 1 2 50.00 % High 0 2 0.00 % Medium 1 1 100.00 %" in text
    assert by_tier["critical"].pct == Decimal("50.00")
    # Time to remediate: critical 20 h and 72 h → median 46 h, p90 20 + 0.9 × 52 = 66.8 h.
    assert ttr["critical"]["count"] == 2
    assert "Critical 2 46.00 66.80" in text and "Medium 1 264.00 264.00" in text


def test_monthly_exceptions_failures_and_top_risks(monthly):
    _, _, text = monthly
    figures = compliance.exception_figures(OCT_END)
    assert (figures.active, figures.max_aging_days, figures.min_days_left) == (1, 11, 29)
    assert "1 active exception covering 1 outstanding finding" in text
    assert "the oldest began 11 days ago and the next hard expiry is in 29 days" in text
    assert "PSA-4711 v1 Deferral Active" in text and "owner@a.test 11 29 2026-11-30 15:00" in text
    assert "0 failed of 0 attempted deployments: failure rate —" in text
    # per ring too, in ring order, from the same engine function the pages use
    rings = [row["name"] for row in compliance.failure_rates_by_ring(OCT_START, OCT_END)]
    assert rings and all(name in text for name in rings)
    assert "3 findings verified as fixed in the period" in text
    top = text.split("Top remediated risks", 1)[1]
    assert top.index("KB5044273") < top.index("KB5044274") < top.index("openssl@3.0.2")
    assert "KB5044275" not in top  # still open


def test_a_generated_monthly_report_never_changes(monthly, in_tenant_a):
    from patchops.models import Finding

    first, _, _ = monthly
    original = _bytes(first)
    Finding.objects.filter(patch_identifier="KB5044275").update(
        state="verified", verified_at=datetime(2026, 10, 16, tzinfo=UTC)
    )
    second = generate_report(client=in_tenant_a, kind=ReportKind.MONTHLY, period=OCTOBER)
    assert (first.version, second.version) == (1, 2)
    assert "Windows 4 4 100.00 %" in " ".join(pdf_pages(_bytes(second)))
    stored = StoredReport.objects.get(pk=first.pk)
    assert _bytes(stored) == original and stored.sha256 == first.sha256
    assert "Windows 3 4 75.00 %" in " ".join(pdf_pages(original))


def test_monthly_of_an_empty_client_renders_empty_states(tenant_b):
    from django_tenants.utils import tenant_context

    with tenant_context(tenant_b):
        report = generate_report(client=tenant_b, kind=ReportKind.MONTHLY, period=OCTOBER)
        pages = pdf_pages(_bytes(report))
    assert_running_header(pages, "Bravo Logistics", "2026-10")
    text = " ".join(pages)
    # Berlin: October is 1 Oct 00:00 CEST – 1 Nov 00:00 CET, printed in local dates.
    assert "(1 Oct 2026 – 31 Oct 2026, Europe/Berlin)" in text
    assert "No finding was due in the period." in text and "No exception was active." in text
    assert "No assets in scope." in text
