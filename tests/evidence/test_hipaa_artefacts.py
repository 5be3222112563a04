from datetime import UTC, date, datetime

import pytest

from evidence.pdf import render_pdf
from evidence.reports import base_context, ephi_inventory_context, evidence_chain_context
from evidence.selectors import chain_head
from evidence.services import record_event
from tests.evidence.factories import seed_chain, seed_inventory
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


def test_ephi_inventory_lists_only_ephi_systems(in_tenant_a):
    inv = seed_inventory()
    context = ephi_inventory_context()
    assert context["ephi_count"] == 2
    assert [a.hostname for a in context["ephi_assets"]] == ["ac-ws-00", "ac-ws-01"]
    assert context["ephi_by_os"] == [("Windows", 2)]
    assert inv["linux"][0] not in context["ephi_assets"]


def test_evidence_chain_links_detection_deployment_and_verification(in_tenant_a):
    inv = seed_inventory()
    done, open_ = seed_chain(inv["windows"])
    record_event(
        kind="finding.detected",
        subject_type="finding",
        subject_id="outside-period",
        occurred_at=datetime(2026, 8, 3, tzinfo=UTC),
    )
    context = evidence_chain_context(in_tenant_a, OCTOBER)
    rows = {r["finding_id"]: r for r in context["chain_rows"]}
    assert set(rows) == {str(done.uuid), str(open_.uuid)}
    full = rows[str(done.uuid)]
    assert full["complete"] and full["asset"] == "ac-ws-00" and full["patch"] == "KB5044284"
    assert full["detected"].sequence == 1
    assert full["deployed"].kind == "deployment.succeeded" and full["deployed"].sequence == 3
    assert full["verified"].sequence == 4
    partial = rows[str(open_.uuid)]
    assert partial["detected"] and not partial["deployed"] and not partial["complete"]
    assert context["chain_findings"] == 2 and context["chain_complete"] == 1
    assert context["chain_head_hash"] == chain_head().hash


def test_hipaa_artefacts_pdf_shows_both_artefacts_and_the_head_hash(in_tenant_a):
    inv = seed_inventory()
    seed_chain(inv["windows"])
    context = base_context(in_tenant_a, OCTOBER, "HIPAA evidence artefacts")
    context |= ephi_inventory_context() | evidence_chain_context(in_tenant_a, OCTOBER)
    pages = pdf_pages(render_pdf("evidence/pdf/hipaa_artefacts.html", context))
    assert_running_header(pages, "Alpha Clinic", "2026-10")
    text = " ".join(pages)
    assert "ePHI asset inventory" in text and "2 systems create, receive" in text
    assert "Patch evidence chain" in text and "1 of 2 findings have a complete chain" in text
    assert "ac-ws-00" in text and "KB5044284" in text and "#4" in text
    head = chain_head()
    assert f"event #{head.sequence}" in text
    assert head.hash in text.replace(" ", "")
