"""The HIPAA-aligned evidence pack: cover, four artefacts, chain head; HIPAA clients only."""

from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from evidence.builders import controls_register_context, prioritization_log_context
from evidence.models import ReportKind, StoredReport
from evidence.reports import ReportNotAvailable, generate_report
from evidence.selectors import chain_head
from patchops.models import Finding
from tests.evidence.factories import OCT_END, OCT_START, seed_report_client
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def seeded(in_tenant_a, personas):
    return seed_report_client(client=in_tenant_a, owner=personas.owner_a)


def _pages(report: StoredReport) -> list[str]:
    with report.file.open("rb") as fh:
        return pdf_pages(fh.read())


def test_hipaa_pack_has_cover_four_artefacts_and_chain_head(in_tenant_a, seeded):
    before = chain_head()  # the fixture's last event (a suite may hold earlier ones)
    report = generate_report(client=in_tenant_a, kind=ReportKind.HIPAA, period=OCTOBER)
    pages = _pages(report)
    assert_running_header(pages, "Alpha Clinic", "2026-10")
    cover, text = pages[0], " ".join(pages)
    # The pack's own report.generated event comes after rendering: the printed head is the one
    # before it.
    head = chain_head()
    assert head.kind == "report.generated" and head.prev_hash == before.hash
    n = before.sequence
    assert "Scope of this evidence pack" in cover
    assert "2 ePHI systems of 7 managed assets in scope" in cover
    assert "5 findings outstanding" in cover
    assert "2 of 3 findings with detection → deployment → verification" in cover
    assert "1 signed exception in force during the period" in cover
    assert f"the log held {n} events; recomputing every hash confirmed the chain is intact" in cover
    assert f"Head event #{n}" in cover and before.hash in cover.replace(" ", "")
    for heading in (
        "ePHI asset inventory",
        "Risk-based prioritization log",
        "Patch evidence chain",
        "Compensating controls register",
    ):
        assert heading in text, heading
    # Artefact 1: only the two ePHI workstations.
    assert "rc-win-01" in pages[1] and "rc-win-02" in pages[1] and "rc-lnx-01" not in pages[1]


def test_prioritization_log_in_the_pack_is_ordered_with_reasons(in_tenant_a, seeded):
    text = " ".join(_pages(generate_report(client=in_tenant_a, kind="hipaa", period=OCTOBER)))
    log = text.split("Risk-based prioritization log")[-1].split("Patch evidence chain")[0]
    assert "5 findings outstanding." in log
    # Tier first, then risk score: the three highs (70, 60, 50), the medium, the low.
    order = ["USN-7079-1", "KB5044275", "KB5044276", "KB5044277", "macOS-14.7.1"]
    assert [log.index(p) for p in order] == sorted(log.index(p) for p in order)
    assert "1 rc-lnx-02 USN-7079-1 High 70.00" in log
    assert "core server; role server; risk score 70.00; due in 6 d 19 h" in log
    assert "overdue by 31 d 5 h" in log  # F7, due 1 Oct 00:00Z, as of 1 Nov 05:00Z
    assert "KB5044273" not in log  # verified on 2 October


def test_prioritization_log_is_as_of_the_period_end(in_tenant_a, seeded):
    Finding.objects.filter(patch_identifier="KB5044275").update(
        state="verified", verified_at=datetime(2026, 11, 10, tzinfo=UTC)
    )
    entries = prioritization_log_context(OCT_END)["priority_entries"]
    assert [e.finding.patch_identifier for e in entries][:3] == [
        "USN-7079-1",
        "KB5044275",  # verified only after the period: still outstanding at its end
        "KB5044276",
    ]
    later = prioritization_log_context(datetime(2026, 11, 11, tzinfo=UTC))
    assert "KB5044275" not in [e.finding.patch_identifier for e in later["priority_entries"]]


def test_evidence_chain_and_controls_register_in_the_pack(in_tenant_a, seeded):
    text = " ".join(_pages(generate_report(client=in_tenant_a, kind="hipaa", period=OCTOBER)))
    chain = text.split("Patch evidence chain")[-1].split("Compensating controls register")[0]
    assert "2 of 3 findings have a complete chain" in chain
    assert "rc-win-01 KB5044273 Critical 2026-10-02 00:00 #4 2026-10-02 18:00 #5" in chain
    signature = seeded["exception"].signature
    register = text.split("Compensating controls register")[-1]
    assert "PSA-4711 · Deferral · version 1 · Active" in register
    assert "Network segmentation: Server moved to VLAN 40, no internet." in register
    assert "Approver owner@a.test" in register
    assert "Signed at 2026-10-20 15:00:00 UTC by owner@a.test" in register
    assert signature.text_sha256 in register.replace(" ", "")
    assert "hard expiry 2026-11-30 15:00 UTC; 41 days" in register


def test_controls_register_lists_only_exceptions_in_force_during_the_period(in_tenant_a, seeded):
    assert controls_register_context(OCT_START, OCT_END, OCT_END)["controls_count"] == 1
    september = controls_register_context(datetime(2026, 9, 1, 5, tzinfo=UTC), OCT_START, OCT_START)
    assert september["controls_count"] == 0  # signed on 20 October


def test_hipaa_pack_refuses_a_client_that_is_not_hipaa_regulated(tenant_b):
    with tenant_context(tenant_b):
        with pytest.raises(ReportNotAvailable) as exc:
            generate_report(client=tenant_b, kind=ReportKind.HIPAA, period=OCTOBER)
        assert not StoredReport.objects.exists()
    assert str(exc.value) == (
        "The HIPAA-aligned evidence pack is only produced for HIPAA-regulated clients; "
        "Bravo Logistics is not marked as HIPAA-regulated."
    )
    with pytest.raises(CommandError, match="only produced for HIPAA-regulated clients"):
        call_command("generate_report", "tenant-b", "--kind", "hipaa", "--period", "2026-10")
