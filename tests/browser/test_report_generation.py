"""An account manager generates a report in the browser: its row shows it queued, then turns
into a download link by itself (no reload) once the real worker has rendered it, and the
download is the PDF of that client and month. A rendering that never finishes ends its row as
failed, with the reason and a retry, just as quietly."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone
from django_tenants.utils import tenant_context

from common.periods import format_period, previous_month
from reports import requests
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.celery_worker import celery_worker
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker]


@pytest.fixture
def reports_queue(settings) -> Iterator[str]:
    """A queue of its own for the rendering task, on which no worker listens yet (emptied
    afterwards: a message nobody took stays in the broker otherwise)."""
    settings.REPORTS_QUEUE = f"test-{uuid.uuid4().hex[:8]}"
    yield settings.REPORTS_QUEUE
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(settings.REPORTS_QUEUE)


@pytest.fixture
def managed_client(fresh_client):
    client, owner = fresh_client
    client.account_managers.add(User.objects.get(email="am@msp.test"))
    return client


def _main_frame_navigations(page) -> list[str]:
    seen: list[str] = []

    def navigated(frame) -> None:
        if frame == page.main_frame:
            seen.append(frame.url)

    page.on("framenavigated", navigated)
    return seen


def _ask_for(page, client, month: str) -> None:
    sign_in(page, "am@msp.test", PASSWORD)
    page.goto(f"/clients/{client.slug}/reports/")
    page.select_option("[data-testid=generate-form] select[name=kind]", "inventory")
    page.fill("[data-testid=period]", month)
    page.click("[data-testid=generate-form] button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_the_pending_row_turns_into_the_pdf_without_a_reload(
    page, managed_client, reports_queue, tmp_path
):
    client = managed_client
    month = format_period(previous_month(timezone.now().astimezone(client.tz)))
    _ask_for(page, client, month)

    row = page.locator("[data-testid=report-request]").first
    assert row.get_attribute("data-state") == "queued"  # nobody is rendering yet
    assert "Queued" in row.locator("[data-testid=report-request-state]").inner_text()
    navigations = _main_frame_navigations(page)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/reports/requests/" in r.url else None)

    with celery_worker(queue=reports_queue):
        link = page.locator("[data-testid=report-request-download]")
        link.wait_for(timeout=90_000)
        assert (
            page.locator("[data-testid=report-request]").first.get_attribute("data-state")
            == "ready"
        )
        with page.expect_download() as download_info:
            link.click()
        download = download_info.value
        saved = tmp_path / (download.suggested_filename or "report.pdf")
        download.save_as(saved)

    assert navigations == []  # the row changed in place: the page was never reloaded
    assert polls  # it asked for itself until it was ready
    pdf = Path(saved).read_bytes()
    assert pdf.startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-layout", str(saved), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert client.name in text and f"Period {month}" in text
    assert saved.name == f"{client.slug}-inventory-{month}-v1.pdf"


def test_a_rendering_that_never_finishes_ends_its_row_as_failed(
    page, managed_client, reports_queue, committed
):
    client = managed_client
    month = format_period(previous_month(timezone.now().astimezone(client.tz)))
    _ask_for(page, client, month)
    row = page.locator("[data-testid=report-request]").first
    assert row.get_attribute("data-state") == "queued"
    navigations = _main_frame_navigations(page)

    # No worker ever takes it; the sweep gives up on it as it does after 30 minutes.
    with tenant_context(client):
        later = timezone.now() + requests.STALE_AFTER + timedelta(minutes=1)
        assert requests.fail_stale_requests(now=later) == 1

    error = page.locator("[data-testid=report-request-error]")
    error.wait_for(timeout=30_000)
    assert "did not finish within 30 minutes" in error.inner_text()
    failed = page.locator("[data-testid=report-request]").first
    assert failed.get_attribute("data-state") == "failed"
    assert failed.locator("button", has_text="Retry").is_visible()
    assert navigations == []
