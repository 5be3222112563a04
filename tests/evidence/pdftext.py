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
