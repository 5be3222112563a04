"""The HIPAA-aligned evidence pack of the October clinic (tests/reports/scenario.py):
cover, four artefacts, chain head; HIPAA clients only. The deployments in its evidence chain are
real rollouts whose agents reported through the agent-job API, verified by the next inventory."""

from datetime import date, datetime

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from evidence.selectors import chain_head
from reports.builders import controls_register_context, prioritization_log_context
from reports.models import ReportKind, StoredReport
from reports.services import ReportNotAvailable, generate_report
from tests.evidence.pdftext import assert_running_header, report_pages
from tests.reports.scenario import OCT_END, OCT_START, assert_rollouts_section, at

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def pack(october_clinic):
    pages = report_pages(october_clinic["client"], ReportKind.HIPAA, OCTOBER)
    return pages, " ".join(pages)


def _event(kind: str, *, subject_id: str | None = None, at_: datetime | None = None):
    qs = EvidenceEvent.objects.filter(kind=kind)
    if subject_id is not None:
        qs = qs.filter(subject_id=subject_id)
    if at_ is not None:
        qs = qs.filter(occurred_at=at_)
    return qs.get()


def test_hipaa_pack_has_cover_four_artefacts_and_chain_head(october_clinic, pack):
    pages, text = pack
    assert_running_header(pages, "Riverbend Clinic", "2026-10")
    cover = pages[0]
    with tenant_context(october_clinic["client"]):
        head = chain_head()
    assert "Scope of this evidence pack" in cover
    assert "2 ePHI systems of 8 managed assets in scope" in cover
    assert "5 findings outstanding" in cover
    assert "2 of 7 findings with detection → deployment → verification" in cover
    assert "1 signed exception in force during the period" in cover
    assert f"the log held {head.sequence} events; recomputing every hash confirmed" in cover
    assert f"Head event #{head.sequence}" in cover and head.hash in cover.replace(" ", "")
    for heading in (
        "ePHI asset inventory",
        "Risk-based prioritization log",
        "Patch evidence chain",
        "Compensating controls register",
    ):
        assert heading in text, heading
    # Artefact 1: only the two ePHI workstations, last seen at their Oct 31 12:00Z report.
    assert "rc-win-01" in pages[1] and "rc-win-02" in pages[1] and "rc-lnx-01" not in pages[1]
    assert "2026-10-31 07:00 CDT" in pages[1]


def test_generating_the_pack_stores_it_after_the_head_it_prints(october_clinic):
    client = october_clinic["client"]
    with tenant_context(client):
        before = chain_head()
        report = generate_report(client=client, kind=ReportKind.HIPAA, period=OCTOBER)
        head = chain_head()
    # The pack's own report.generated event comes after rendering: it printed the head before.
    assert head.kind == "report.generated" and head.prev_hash == before.hash
    assert head.subject_id == str(report.uuid)


def test_prioritization_log_ranks_excepted_work_last_with_reasons(pack):
    _, text = pack
    log = text.split("Risk-based prioritization log")[-1].split("Patch evidence chain")[0]
    assert "5 findings outstanding." in log
    # Uncovered work first: the high F3 (44.50), the mediums by risk score F6 (59.50) and F8
    # (47.50), the low F7; the excepted high F4 last whatever its tier.
    order = ["KB5044275", "USN-7079-1", "KB5044277", "macOS-14.7.1", "KB5044276"]
    assert [log.index(p) for p in order] == sorted(log.index(p) for p in order)
    assert "KB5044275 High 44.50 2026-10-16 19:00 CDT tier high; CVSS 8.8; EPSS 0.0200" in log
    assert "overdue by 15 d 5 h" in log  # F3 due 17 Oct 00:00Z, as of 1 Nov 05:00Z
    assert "overdue by 31 d 5 h" in log  # F7 due 1 Oct 00:00Z
    assert "core server; role server; risk score 59.50; due in 6 d 19 h" in log
    # F4: excepted until the deferral's expiry, in the client's zone, on its row and in its reason.
    assert "KB5044276 High excepted until 2026-11-30 09:00 CST 49.00" in log
    assert "excepted until 2026-11-30 09:00 CST, ranked after uncovered work" in log
    assert "KB5044273" not in log  # verified on 2 October


def test_prioritization_log_is_as_of_the_period_end(october_clinic):
    with tenant_context(october_clinic["client"]):
        entries = prioritization_log_context(OCT_END)["priority_entries"]
        earlier = prioritization_log_context(at(10, 12))["priority_entries"]
    assert [e.finding.patch_identifier for e in entries] == [
        "KB5044275", "USN-7079-1", "KB5044277", "macOS-14.7.1", "KB5044276",
    ]  # fmt: skip
    # On 12 October at 00:00Z: F5 not verified yet (12:00Z), F4, F6, F8 not detected yet.
    assert [e.finding.patch_identifier for e in earlier] == [
        "KB5044275", "USN-6854-1", "macOS-14.7.1",
    ]  # fmt: skip


def test_evidence_chain_counts_the_real_rollouts_and_the_next_inventory(october_clinic, pack):
    _, text = pack
    chain = text.split("Patch evidence chain")[-1].split("Compensating controls register")[0]
    # Findings with chain evidence in October: F1 … F6 and F8 (F7 was detected in September).
    # Complete: F1 and F2 (detected by ingest, deployed by a rollout whose agent reported the
    # install through the agent-job API, verified by the next inventory). F5 was fixed by hand
    # (no deployment), F3's only deployment failed, F4, F6, F8 are open.
    assert "2 of 7 findings have a complete chain" in chain
    findings = october_clinic["findings"]
    with tenant_context(october_clinic["client"]):
        f1 = str(findings["F1"].uuid)
        detected = _event("finding.detected", subject_id=f1)
        deployed = EvidenceEvent.objects.get(
            kind="deployment.succeeded", payload__findings__contains=[f1]
        )
        verified = _event("finding.verified", subject_id=f1)
        failed = EvidenceEvent.objects.get(kind="deployment.failed")
    assert deployed.payload["findings"] == [f1] and deployed.actor == "token:october-agents"
    assert (
        f"rc-win-01 KB5044273 Critical 2026-10-01 19:00 CDT #{detected.sequence} "
        f"2026-10-02 13:00 CDT #{deployed.sequence} 2026-10-02 15:00 CDT #{verified.sequence}"
    ) in chain
    assert "rc-win-03 KB5044275 High 2026-10-09 19:00 CDT" in chain
    assert f"failed 2026-10-12 13:00 CDT #{failed.sequence}" in chain
    assert "rc-mac-01" not in chain


def test_controls_register_in_the_pack(october_clinic, pack):
    _, text = pack
    register = text.split("Compensating controls register")[-1]
    with tenant_context(october_clinic["client"]):
        signature = october_clinic["exception"].signature
    assert "PSA-4711 · Deferral · version 1 · Active" in register
    assert "Network segmentation: Server moved to VLAN 40, no internet." in register
    assert "Approver owner@october.test" in register
    assert "Signed at 2026-10-20 10:00:00 CDT by owner@october.test" in register
    assert signature.text_sha256 in register.replace(" ", "")
    # The owner signed with a passkey (the scenario's software authenticator).
    assert signature.method == "passkey"
    assert "Signing method Passkey (WebAuthn signature over the text's SHA-256" in register
    assert "2026-10-20 10:00 CDT → hard expiry 2026-11-30 09:00 CST; 41 days" in register


def test_controls_register_lists_only_exceptions_in_force_during_the_period(october_clinic):
    with tenant_context(october_clinic["client"]):
        assert controls_register_context(OCT_START, OCT_END, OCT_END)["controls_count"] == 1
        september = controls_register_context(at(9, 1, 5), OCT_START, OCT_START)
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


def test_hipaa_pack_lists_the_period_rollouts(pack):
    _, text = pack
    assert "Rollouts in the period" in text
    assert_rollouts_section(text)
