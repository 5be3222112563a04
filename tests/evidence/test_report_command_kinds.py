"""generate_report end to end for the monthly, HIPAA and QBR kinds."""

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from evidence.models import StoredReport
from tests.evidence.factories import seed_report_client
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "heading", "figure"),
    [
        ("monthly", "Monthly compliance report", "Windows 3 4 75.00 %"),
        ("hipaa", "HIPAA-aligned evidence pack", "Compensating controls register"),
        ("qbr", "QBR executive summary", "a compliance score of 71.43 %"),
    ],
)
def test_generate_report_command_renders_stores_and_writes(
    tenant_a, personas, tmp_path, capsys, kind, heading, figure
):
    with tenant_context(tenant_a):
        seed_report_client(client=tenant_a, owner=personas.owner_a)
    out = tmp_path / f"{kind}.pdf"
    call_command(
        "generate_report", "tenant-a", "--kind", kind, "--period", "2026-10", "--out", str(out)
    )
    data = out.read_bytes()
    pages = pdf_pages(data)
    assert_running_header(pages, "Alpha Clinic", "2026-10")
    assert heading in pages[0] and figure in " ".join(pages)
    with tenant_context(tenant_a):
        report = StoredReport.objects.get(kind=kind)
        with report.file.open("rb") as fh:
            assert fh.read() == data
    assert report.sha256 in capsys.readouterr().out
