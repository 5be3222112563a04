"""The exception register as a stored PDF report, queued from the register page."""

from datetime import date
from unittest import mock

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import ReportKind
from exceptions_register.selectors import register_counts
from tests.evidence.pdftext import assert_running_header, report_pages
from tests.evidence.reports.scenario import OCT_END

pytestmark = pytest.mark.django_db
QUEUE = "evidence.tasks.generate_report_task.apply_async"


def test_register_pdf_has_counts_aging_durations_and_controls(october_clinic):
    client = october_clinic["client"]
    pages = report_pages(client, ReportKind.EXCEPTIONS, date(2026, 10, 1))
    assert_running_header(pages, "Riverbend Clinic", "2026-10")
    text = " ".join(pages)
    with tenant_context(client):
        counts = register_counts(OCT_END)
    assert (counts["active"], counts["active_deferrals"], counts["covered_findings"]) == (1, 1, 1)
    assert "1 Active exceptions 1 Active deferrals 0 Active isolated lanes" in text
    assert "PSA-4711 v1 Deferral Active" in text
    assert "Extra monitoring: EDR alerts reviewed daily." in text
    # Signed 20 Oct 15:00Z (10:00 CDT): aging 11 days, 29 days to expiry, 41 days in all; the
    # hard expiry 30 Nov 15:00Z is 09:00 CST for the owner in Chicago.
    assert "owner@october.test 2026-10-20 10:00 CDT 11 29 41 2026-11-30 09:00 CST" in text


def test_register_pdf_of_an_earlier_month_shows_the_exception_not_yet_there(october_clinic):
    text = " ".join(report_pages(october_clinic["client"], ReportKind.EXCEPTIONS, date(2026, 9, 1)))
    assert "The register is empty." in text and "PSA-4711" not in text


def test_staff_export_queues_the_register_report_and_land_on_reports(login, personas, tenant_a):
    with (
        time_machine.travel("2026-11-27T12:00:00Z", tick=False),
        mock.patch(QUEUE, autospec=True) as queue,
        mock.patch("evidence.reports.render_pdf", autospec=True) as render,
    ):
        page = login(personas.engineer).get("/clients/tenant-a/exceptions/")
        assert b'data-testid="export-pdf"' in page.content
        response = login(personas.engineer).post("/clients/tenant-a/exceptions/export.pdf")
    assert response.status_code == 302
    assert response["Location"] == "/clients/tenant-a/reports/?kind=exceptions&period=2026-11"
    queue.assert_called_once_with(
        kwargs={"kind": "exceptions", "period": "2026-11", "actor": "engineer@msp.test"},
        retry=False,
    )
    render.assert_not_called()  # never rendered in the request


@pytest.mark.parametrize("who", ["owner_a", "viewer_a"])
def test_client_users_do_not_generate_the_register_pdf(login, personas, tenant_a, who):
    user = getattr(personas, who)
    with mock.patch(QUEUE, autospec=True) as queue:
        page = login(user).get("/clients/tenant-a/exceptions/")
        assert b'data-testid="export-pdf"' not in page.content
        assert login(user).post("/clients/tenant-a/exceptions/export.pdf").status_code == 403
    queue.assert_not_called()


def test_register_pdf_export_of_another_client_is_404(login, personas, tenant_a):
    with mock.patch(QUEUE, autospec=True) as queue:
        response = login(personas.owner_b).post("/clients/tenant-a/exceptions/export.pdf")
    assert response.status_code == 404
    queue.assert_not_called()


def test_register_pdf_export_is_post_only(login, personas, tenant_a):
    response = login(personas.engineer).get("/clients/tenant-a/exceptions/export.pdf")
    assert response.status_code == 405
