"""Reports carry the MSP's name and logo and the client's logo, on the paper of the client's
country; the settings pages refuse anything that is not a PNG or JPEG that decodes, and the
pending row of a request follows it until the file is ready or the rendering failed."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date

import pytest
from django_tenants.utils import tenant_context
from PIL import Image
from pypdf import PdfReader

from reports.models import ReportRequest, RequestState
from reports.tasks import generate_report_task
from tenants.models import Client, ClientLogo, MspProfile

pytestmark = pytest.mark.django_db
PAGE = "/clients/tenant-a/reports/"
SETTINGS = "/clients/tenant-a/reports/settings/"
BRANDING = "/report-branding/"
POINTS = {"Letter": (612, 792), "A4": (595, 842)}


def _picture(kind: str, size=(120, 40), colour="navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


def _upload(name: str, data: bytes, content_type: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    sent: list[dict] = []
    monkeypatch.setattr(
        generate_report_task, "apply_async", lambda kwargs=None, **_: sent.append(kwargs)
    )
    return sent


def _generate(http, tenant, queued, period: str = "2026-10") -> bytes:
    """Ask for an inventory report on the page, run the queued task, download the file."""
    answer = http.post(PAGE, {"kind": "inventory", "period": period})
    assert answer.status_code == 302
    with tenant_context(tenant):
        assert generate_report_task.apply(kwargs=queued[-1]).successful()
        made = ReportRequest.objects.select_related("report").get(uuid=queued[-1]["request"])
    assert made.state == RequestState.READY
    download = http.get(f"{PAGE}{made.report.uuid}/download/")
    assert download.status_code == 200
    return b"".join(download.streaming_content)


def _text(pdf: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode()


def _page_points(pdf: bytes) -> tuple[int, int]:
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    return round(float(box.width)), round(float(box.height))


def test_the_paper_follows_the_clients_country(login, personas, tenant_a, queued):
    admin = login(personas.msp_admin)
    assert tenant_a.locale == "en-US"  # the default: Letter
    assert _page_points(_generate(admin, tenant_a, queued)) == POINTS["Letter"]

    saved = admin.post(SETTINGS, {"locale": "de-DE"}, follow=True)
    assert "German (Germany), A4 paper" in saved.content.decode()
    assert Client.objects.get(pk=tenant_a.pk).locale == "de-DE"
    with tenant_context(tenant_a):
        from evidence.models import EvidenceEvent

        event = EvidenceEvent.objects.filter(kind="report_settings.changed").get()
    assert event.payload == {"locale": "de-DE", "paper": "A4", "logo": "none", "logo_sha256": ""}
    assert event.actor == "admin@msp.test"
    assert _page_points(_generate(admin, tenant_a, queued)) == POINTS["A4"]

    admin.post(SETTINGS, {"locale": "es-MX"})
    assert _page_points(_generate(admin, tenant_a, queued)) == POINTS["Letter"]


def test_reports_carry_the_msp_and_the_client_logos(login, personas, tenant_a, queued):
    admin = login(personas.msp_admin)
    msp_logo = _picture("PNG", colour="darkgreen")
    client_logo = _picture("JPEG", size=(200, 80), colour="orange")
    saved = admin.post(
        BRANDING,
        {"name": "Northwind IT Services", "logo": _upload("msp.png", msp_logo, "image/png")},
    )
    assert saved.status_code == 302
    assert bytes(MspProfile.objects.get().logo) == msp_logo
    saved = admin.post(
        SETTINGS,
        {"locale": "en-GB", "logo": _upload("alpha.jpg", client_logo, "image/jpeg")},
    )
    assert saved.status_code == 302
    settings_page = admin.get(SETTINGS).content.decode()
    assert 'data-testid="logo-preview"' in settings_page
    assert "Northwind IT Services" in settings_page

    pdf = _generate(admin, tenant_a, queued)
    text = _text(pdf)
    assert "Prepared for Alpha Clinic by Northwind IT Services" in re.sub(r"\s+", " ", text)
    assert "Northwind IT Services" in text.split("Inventory snapshot")[0]  # the running header
    first = PdfReader(io.BytesIO(pdf)).pages[0]
    sizes = sorted({(i.image.width, i.image.height) for i in first.images})
    assert sizes == [(120, 40), (200, 80)]  # both logos, as uploaded
    assert _page_points(pdf) == POINTS["A4"]

    # Removing the client's logo leaves the MSP's.
    admin.post(SETTINGS, {"locale": "en-GB", "remove_logo": "on"})
    assert not ClientLogo.objects.filter(client=tenant_a).exists()
    again = PdfReader(io.BytesIO(_generate(admin, tenant_a, queued))).pages[0]
    assert sorted({(i.image.width, i.image.height) for i in again.images}) == [(120, 40)]


BAD_LOGOS = [
    (
        "logo.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/svg+xml",
        "SVG",
    ),
    ("logo.gif", None, "image/gif", "a logo must be PNG or JPEG"),
    ("logo.png", b"not a picture at all", "image/png", "not a PNG or JPEG image"),
    ("cut.png", "truncated", "image/png", "could not be decoded"),
    ("empty.png", b"", "image/png", "empty"),
]


@pytest.mark.parametrize(("name", "data", "content_type", "message"), BAD_LOGOS)
def test_a_logo_that_is_not_a_readable_png_or_jpeg_is_refused(
    login, personas, tenant_a, name, data, content_type, message
):
    if data is None:
        data = _picture("GIF")
    elif data == "truncated":
        whole = _picture("PNG", size=(400, 400))
        data = whole[: len(whole) // 2]
    admin = login(personas.msp_admin)
    answer = admin.post(SETTINGS, {"locale": "fr-FR", "logo": _upload(name, data, content_type)})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not ClientLogo.objects.filter(client=tenant_a).exists()
    assert Client.objects.get(pk=tenant_a.pk).locale == "en-US"  # nothing saved

    answer = admin.post(BRANDING, {"name": "Northwind", "logo": _upload(name, data, content_type)})
    assert answer.status_code == 400 and message in answer.content.decode()
    assert not MspProfile.objects.exists()


def test_a_logo_over_the_limit_an_unknown_locale_and_no_name_are_refused(
    login, personas, tenant_a, settings
):
    settings.REPORT_LOGO_MAX_BYTES = 2048
    admin = login(personas.msp_admin)
    big = _picture("PNG", size=(300, 300))
    big = big + b"\0" * max(0, 3000 - len(big))
    answer = admin.post(SETTINGS, {"locale": "en-US", "logo": _upload("big.png", big, "image/png")})
    assert answer.status_code == 400 and "at most 2 KB" in answer.content.decode()
    answer = admin.post(SETTINGS, {"locale": "xx-YY"})
    assert answer.status_code == 400 and "“xx-YY” is not a locale" in answer.content.decode()
    answer = admin.post(BRANDING, {"name": "   "})
    assert answer.status_code == 400 and "Enter the name of the MSP" in answer.content.decode()
    assert not MspProfile.objects.exists() and not ClientLogo.objects.exists()


def test_only_msp_admins_change_the_branding(login, personas, tenant_a):
    for person in (personas.engineer, personas.account_manager, personas.owner_a):
        http = login(person)
        assert http.get(SETTINGS).status_code == 403
        assert http.post(SETTINGS, {"locale": "de-DE"}).status_code == 403
        assert http.post(BRANDING, {"name": "Mallory IT"}).status_code == 403
    assert login(personas.owner_b).get(SETTINGS).status_code == 404
    assert Client.objects.get(pk=tenant_a.pk).locale == "en-US"
    assert not MspProfile.objects.exists()


def test_the_pending_row_follows_its_request_until_the_file_is_ready(
    login, personas, tenant_a, queued
):
    manager = login(personas.account_manager)
    manager.post(PAGE, {"kind": "inventory", "period": "2026-10"})
    uuid = queued[-1]["request"]
    row_url = f"{PAGE}requests/{uuid}/"
    page = manager.get(PAGE).content.decode()
    assert f'hx-get="{row_url}"' in page and 'hx-trigger="every 2s"' in page
    assert "vendor/htmx.min.js" in page

    pending = manager.get(row_url).content.decode()
    assert 'data-state="queued"' in pending and "hx-trigger" in pending

    with tenant_context(tenant_a):
        generate_report_task.apply(kwargs=queued[-1])
        report = ReportRequest.objects.get(uuid=uuid).report
    ready = manager.get(row_url).content.decode()
    assert 'data-state="ready"' in ready and "hx-trigger" not in ready  # polling stops
    assert f'href="{PAGE}{report.uuid}/download/"' in ready and "Download PDF" in ready
    assert manager.get(f"{PAGE}requests/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert login(personas.owner_b).get(row_url).status_code == 404


def test_a_failed_rendering_ends_the_row_with_its_reason(
    login, personas, tenant_a, queued, monkeypatch
):
    manager = login(personas.account_manager)
    manager.post(PAGE, {"kind": "inventory", "period": "2026-10"})

    def broken(*args, **kwargs):
        raise ValueError("no fonts configured")

    monkeypatch.setattr("reports.services.render_pdf", broken)
    with tenant_context(tenant_a):
        assert generate_report_task.apply(kwargs=queued[-1]).failed()
    row = manager.get(f"{PAGE}requests/{queued[-1]['request']}/").content.decode()
    assert 'data-state="failed"' in row and "hx-trigger" not in row
    assert "ValueError: no fonts configured" in row and ">Retry<" in row


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "is not a valid month"),
        ("October", "is not a period; write it as YYYY-MM"),
        ("", "is not a period"),
        ("2999-01", "has not started yet for Alpha Clinic"),
    ],
)
def test_the_month_picker_refuses_malformed_and_future_months(
    login, personas, tenant_a, queued, period, message
):
    answer = login(personas.account_manager).post(
        PAGE, {"kind": "inventory", "period": period}, follow=True
    )
    assert message in answer.content.decode()
    assert queued == []
    with tenant_context(tenant_a):
        assert not ReportRequest.objects.exists()


def test_the_month_picker_offers_last_month_up_to_this_one(login, personas, tenant_a):
    from django.utils import timezone

    from common.periods import format_period, previous_month

    today = timezone.now().astimezone(tenant_a.tz).date()
    page = login(personas.account_manager).get(PAGE).content.decode()
    assert (
        f'type="month" name="period" value="{format_period(previous_month(today))}" '
        f'min="2000-01" max="{format_period(date(today.year, today.month, 1))}"'
    ) in page


def test_a_client_created_with_an_unknown_locale_is_refused(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="locale"):
        call_command("create_client", "lima-dental", name="Lima Dental", locale="xx-YY")
    assert not Client.objects.filter(slug="lima-dental").exists()


@pytest.mark.parametrize(
    ("locale", "paper"),
    [("en-US", "Letter"), ("fr-CA", "Letter"), ("es-CO", "Letter"), ("en_PH", "Letter")]
    + [("en-GB", "A4"), ("de-DE", "A4"), ("pt-BR", "A4"), ("en", "A4"), ("", "A4")],
)
def test_letter_countries_and_a4_everywhere_else(locale, paper):
    from reports.branding import paper_size

    assert paper_size(locale) == paper


def test_a_row_asking_after_its_session_ended_says_so_and_stops_polling(
    login, personas, tenant_a, queued, http
):
    login(personas.account_manager).post(PAGE, {"kind": "inventory", "period": "2026-10"})
    row_url = f"{PAGE}requests/{queued[-1]['request']}/"
    http.logout()
    answer = http.get(row_url, headers={"HX-Request": "true"})
    assert answer.status_code == 286  # htmx's "stop polling"
    body = answer.content.decode()
    assert 'data-state="signed-out"' in body and f"/accounts/login/?next={PAGE}" in body
    assert http.get(row_url).status_code == 302  # a plain request is sent to sign in
