"""The HIPAA artefacts (ePHI inventory and patch evidence chain) of the October clinic."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from evidence.selectors import chain_head
from reports.pdf import render_pdf
from reports.services import base_context, ephi_inventory_context, evidence_chain_context
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


def test_ephi_inventory_lists_only_ephi_systems(october_clinic):
    with tenant_context(october_clinic["client"]):
        context = ephi_inventory_context()
    assert context["ephi_count"] == 2
    assert [a.hostname for a in context["ephi_assets"]] == ["rc-win-01", "rc-win-02"]
    assert context["ephi_by_os"] == [("Windows", 2)]


def test_evidence_chain_links_detection_deployment_and_verification(october_clinic):
    client, findings = october_clinic["client"], october_clinic["findings"]
    with tenant_context(client):
        context = evidence_chain_context(client, OCTOBER)
        head = chain_head()
        rows = {r["patch"]: r for r in context["chain_rows"]}
        f2 = str(findings["F2"].uuid)
        deployed = EvidenceEvent.objects.get(
            kind="deployment.succeeded", payload__findings__contains=[f2]
        )
    # Every finding with a detection, deployment, rollback or verification in October (F7 was
    # detected on 1 September and nothing happened to it in October).
    assert set(rows) == {
        "KB5044273", "KB5044274", "KB5044275", "KB5044276", "USN-6854-1", "USN-7079-1",
        "KB5044277",
    }  # fmt: skip
    full = rows["KB5044274"]
    assert full["complete"] and full["asset"] == "rc-win-02" and full["tier"] == "Critical"
    assert full["detected"].kind == "finding.detected"
    assert full["deployed"].event == deployed and full["deployed"].actor == "token:october-agents"
    assert full["verified"].kind == "finding.verified"
    assert full["detected"].sequence < full["deployed"].sequence < full["verified"].sequence
    # Fixed by hand: verified, but no deployment on record → not a complete chain.
    by_hand = rows["USN-6854-1"]
    assert by_hand["detected"] and by_hand["verified"] and not by_hand["deployed"]
    assert not by_hand["complete"]
    failed = rows["KB5044275"]
    assert failed["failed_attempts"] == 1 and not failed["deployed"] and not failed["complete"]
    assert context["chain_findings"] == 7 and context["chain_complete"] == 2
    assert context["chain_head_hash"] == head.hash


def test_hipaa_artefacts_pdf_shows_both_artefacts_and_the_head_hash(october_clinic):
    client = october_clinic["client"]
    with tenant_context(client):
        context = base_context(client, OCTOBER, "HIPAA evidence artefacts")
        context |= ephi_inventory_context() | evidence_chain_context(client, OCTOBER)
        pages = pdf_pages(render_pdf("reports/pdf/hipaa_artefacts.html", context))
        head = chain_head()
    assert_running_header(pages, "Riverbend Clinic", "2026-10")
    text = " ".join(pages)
    assert "ePHI asset inventory" in text and "2 systems create, receive" in text
    assert "Patch evidence chain" in text and "2 of 7 findings have a complete chain" in text
    assert f"event #{head.sequence}" in text
    assert head.hash in text.replace(" ", "")
