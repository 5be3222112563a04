import hashlib
from datetime import date

import pytest

from evidence.models import EvidenceEvent, ReportKind
from evidence.reports import generate_report
from tests.evidence.factories import seed_inventory
from tests.evidence.pdftext import assert_running_header, pdf_pages

pytestmark = pytest.mark.django_db


def test_inventory_snapshot_pdf_has_sections_numbers_and_running_header(in_tenant_a):
    seed_inventory(device_rows=60)
    report = generate_report(
        client=in_tenant_a, kind=ReportKind.INVENTORY, period=date(2026, 10, 1)
    )
    with report.file.open("rb") as fh:
        data = fh.read()
    pages = pdf_pages(data)
    assert len(pages) >= 3
    assert_running_header(pages, "Alpha Clinic", "2026-10")
    first, text = pages[0], " ".join(pages)
    assert "Inventory snapshot" in first
    assert "67 Devices 66 Managed 1 Unknown devices 2 ePHI systems 0 Stale" in first
    assert "Windows 63 macOS 1 Linux 2 Other 1" in first
    assert "Core server 2 Workstation 65" in first
    assert "Browser 4 2 4 PDF tool 1 1 1" in first and "OS package 1 1 1" in first
    assert "Total 6" in text
    assert "Device list" in text
    assert "ac-ws-00 Windows · Microsoft Windows 11 Pro 10.0.22631 Workstation yes managed" in text
    assert "ac-srv-1 Linux · Ubuntu 22.04 Core server no managed" in text
    assert "10.0.0.99" in text and "unknown" in text
    assert report.sha256 == hashlib.sha256(data).hexdigest() and report.size == len(data)
    event = EvidenceEvent.objects.get(kind="report.generated")
    assert event.subject_id == str(report.uuid) and event.payload["sha256"] == report.sha256


def test_empty_inventory_still_renders_an_empty_state(in_tenant_a):
    report = generate_report(client=in_tenant_a, kind=ReportKind.INVENTORY, period=date(2026, 9, 1))
    with report.file.open("rb") as fh:
        pages = pdf_pages(fh.read())
    assert_running_header(pages, "Alpha Clinic", "2026-09")
    assert "No devices recorded." in " ".join(pages)
