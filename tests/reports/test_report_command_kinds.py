"""generate_report end to end for the monthly, HIPAA and QBR kinds of the October clinic."""

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from reports.models import StoredReport
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "heading", "figure", "period_label"),
    [
        ("monthly", "Monthly compliance report", "Windows 3 5 1 60.00 %", "2026-10"),
        ("hipaa", "HIPAA-aligned evidence pack", "2 of 7 findings have a complete chain",
         "2026-10"),
        ("qbr", "QBR executive summary", "a compliance score of 62.50 %", "2026-08 – 2026-10"),
    ],
)  # fmt: skip
def test_generate_report_command_renders_stores_and_writes(
    october_clinic, tmp_path, capsys, kind, heading, figure, period_label
):
    client = october_clinic["client"]
    out = tmp_path / f"{kind}.pdf"
    call_command(
        "generate_report", client.slug, "--kind", kind, "--period", "2026-10", "--out", str(out)
    )
    data = out.read_bytes()
    pages = pdf_pages(data)
    assert_running_header(pages, "Riverbend Clinic", period_label)
    assert heading in pages[0] and figure in " ".join(pages)
    with tenant_context(client):
        report = StoredReport.objects.get(kind=kind)
        with report.file.open("rb") as fh:
            assert fh.read() == data
    assert report.sha256 in capsys.readouterr().out
