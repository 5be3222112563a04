"""Render Django templates to PDF with WeasyPrint, fetching nothing but data: URIs and static files.

Call only from a Celery task or a command, never inside a request.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = ["BASE_URL", "RestrictedUrlFetcher", "render_pdf", "html_to_pdf", "FetchRefused"]

logger = logging.getLogger(__name__)

# Relative and root-relative references in report templates resolve against this host, which
# exists nowhere: the fetcher maps its /static/ paths to files on disk and refuses everything else.
BASE_URL = "https://static.patchops.invalid/"
_STATIC_HOST = urlsplit(BASE_URL).hostname


class FetchRefused(ValueError):
    """A report referenced a resource outside data: URIs and the project's static files."""


class RestrictedUrlFetcher(URLFetcher):
    """WeasyPrint URL fetcher allowing only ``data:`` URIs and the project's static files.

    Everything else (http, https, file, ftp…) is refused before any I/O and listed in ``refused``.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.fetched: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            self.fetched.append(url[:40])
            return super().fetch(url, headers)
        path = self._static_path(url)
        if path is None:
            self.refused.append(url)
            logger.warning("report resource refused: %s", url)
            raise FetchRefused(f"Report resources are limited to static files: {url} refused.")
        with open(path, "rb") as fh:
            data = fh.read()
        self.fetched.append(url)
        mime_type, _ = mimetypes.guess_type(path)
        return URLFetcherResponse(
            url, body=data, headers={"Content-Type": mime_type or "application/octet-stream"}
        )

    @staticmethod
    def _static_path(url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname != _STATIC_HOST or parts.query:
            return None
        static_prefix = "/" + settings.STATIC_URL.strip("/") + "/"
        raw = unquote(parts.path)
        if not raw.startswith(static_prefix):
            return None
        relative = raw[len(static_prefix) :]
        normalised = posixpath.normpath(relative)
        if (
            normalised != relative
            or normalised.startswith(("../", "/"))
            or ".." in normalised.split("/")
        ):
            return None
        found = finders.find(normalised)
        if not found or isinstance(found, list):
            return None
        return found


def html_to_pdf(html: str, *, fetcher: RestrictedUrlFetcher | None = None) -> bytes:
    from weasyprint import HTML

    fetcher = fetcher or RestrictedUrlFetcher()
    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf()


def render_pdf(
    template_name: str, context: dict[str, Any], *, fetcher: RestrictedUrlFetcher | None = None
) -> bytes:
    """Render ``template_name`` with ``context`` and return the PDF bytes."""
    return html_to_pdf(render_to_string(template_name, context), fetcher=fetcher)
