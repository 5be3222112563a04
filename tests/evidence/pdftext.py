import io
import re

from pypdf import PdfReader


def pdf_pages(data: bytes) -> list[str]:
    """Text of each page, whitespace collapsed."""
    return [re.sub(r"\s+", " ", p.extract_text() or "") for p in PdfReader(io.BytesIO(data)).pages]


def assert_running_header(pages: list[str], client_name: str, period: str) -> None:
    for number, text in enumerate(pages, start=1):
        assert client_name in text, f"client name missing on page {number}"
        assert f"Period {period}" in text, f"period missing on page {number}"
        assert f"Page {number} of {len(pages)}" in text, f"page number missing on page {number}"


_RENDERED: dict[tuple[int, str, str], list[str]] = {}


def report_pages(client, kind: str, period) -> list[str]:
    """Text of each page of ``kind`` for ``period`` rendered from ``client``'s committed data.

    The report fixture client is built once per module and never changes, so each report is
    rendered once and its text reused (``render_report``: the builder and templates that
    ``generate_report`` stores).
    """
    from django_tenants.utils import tenant_context

    from reports.services import render_report

    key = (client.pk, kind, f"{period:%Y-%m}")
    if key not in _RENDERED:
        with tenant_context(client):
            _RENDERED[key] = pdf_pages(render_report(client, kind, period))
    return _RENDERED[key]
