"""An engineer uploads an Nmap scan in the browser, watches it being read by the real worker,
and finds the scanned hosts in the unknown-device queue."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.browser.conftest import sign_in
from tests.celery_worker import celery_worker
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker]


@pytest.fixture
def worker(settings):
    with celery_worker() as queue:
        settings.UPLOADS_QUEUE = queue
        yield queue


def test_an_uploaded_scan_fills_the_unknown_device_queue(page, fresh_client, worker, realdata):
    client, _owner = fresh_client
    scan = realdata / "nmap" / "2_hosts.xml"
    root = ET.parse(scan).getroot()
    addresses = [
        host.find("address[@addrtype='ipv4']").get("addr")
        for host in root.iter("host")
        if host.find("status").get("state") == "up"
    ]

    sign_in(page, "engineer@msp.test", PASSWORD)
    page.goto(f"/clients/{client.slug}/uploads/")
    assert page.locator("[data-testid=empty]").is_visible()
    page.set_input_files("#id_file", str(scan))
    page.click("[data-testid=upload-form] button[type=submit]")

    page.wait_for_url(re.compile(r"/uploads/[0-9a-f-]{36}/$"))
    summary = page.locator("[data-testid=upload-summary]")
    summary.wait_for(timeout=90_000)
    assert f"{len(addresses)} host(s) up" in summary.inner_text()
    assert page.locator("[data-testid=upload-state]").inner_text() == "Done"

    page.click("[data-testid=unknown-devices-link]")
    page.wait_for_load_state("networkidle")
    queue = page.content()
    for address in addresses:
        assert address in queue
