import hashlib
from datetime import UTC, date, datetime

import pytest
import time_machine

from evidence.models import EvidenceEvent
from reports.models import ReportKind
from reports.services import generate_report
from tests.evidence.pdftext import assert_running_header, pdf_pages
from tests.producers import Device, push

pytestmark = pytest.mark.django_db


def test_inventory_snapshot_pdf_has_sections_numbers_and_running_header(in_tenant_a):
    """3 Windows workstations (2 ePHI), 2 Linux servers, a Mac and 60 small Linux hosts, as
    their agents report them on 10 October."""
    fleet = [Device(f"ac-ws-{i:02d}", ephi=i < 2) for i in range(3)]
    fleet += [Device(f"ac-srv-{i}", os="ubuntu", packages={"openssl": "3.0.2"}) for i in range(2)]
    fleet += [Device("ac-mac-01", os="macos")]
    fleet += [Device(f"zz-fill-{i:03d}", os="ubuntu") for i in range(60)]
    with time_machine.travel(datetime(2026, 10, 10, 12, tzinfo=UTC), tick=False):
        push(fleet)
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
    assert "66 Devices 66 Managed 0 Unknown devices 2 ePHI systems 0 Stale" in first
    assert "Windows 3 macOS 1 Linux 62 Other 0" in first
    assert "Core server 62 Workstation 4" in first
    # Chrome on the three Windows machines and Safari on the Mac; openssl on the two servers.
    assert "Browser 4 2 4" in first and "OS package 2 1 2" in first
    assert "Total 6" in text
    assert "Device list" in text
    assert "ac-ws-00 Windows · Microsoft Windows 11 Pro 10.0.22631 Workstation yes managed" in text
    assert "ac-srv-1 Linux · Ubuntu 22.04.4 LTS Core server no managed" in text
    assert "2026-10-10 07:00 CDT" in text  # last seen, in the client's zone
    assert report.sha256 == hashlib.sha256(data).hexdigest() and report.size == len(data)
    event = EvidenceEvent.objects.get(kind="report.generated")
    assert event.subject_id == str(report.uuid) and event.payload["sha256"] == report.sha256


def test_empty_inventory_still_renders_an_empty_state(in_tenant_a):
    report = generate_report(client=in_tenant_a, kind=ReportKind.INVENTORY, period=date(2026, 9, 1))
    with report.file.open("rb") as fh:
        pages = pdf_pages(fh.read())
    assert_running_header(pages, "Alpha Clinic", "2026-09")
    assert "No devices recorded." in " ".join(pages)
