import socket
from unittest import mock

import pytest

from reports.pdf import BASE_URL, RestrictedUrlFetcher, html_to_pdf

PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_only_data_uris_and_static_files_are_fetched():
    html = f"""<html><head>
      <link rel="stylesheet" href="/static/reports/print.css">
      <link rel="stylesheet" href="http://example.com/evil.css">
      </head><body>
      <img src="{PNG_1PX}">
      <img src="http://example.com/track.png">
      <img src="file:///etc/passwd">
      <img src="/static/../../etc/passwd">
      <img src="/media/c_tenant_a/reports/other.pdf">
      <p>hello</p></body></html>"""
    fetcher = RestrictedUrlFetcher()
    with mock.patch.object(socket, "create_connection", autospec=True) as connect:
        pdf = html_to_pdf(html, fetcher=fetcher)
    assert pdf.startswith(b"%PDF")
    connect.assert_not_called()
    assert f"{BASE_URL}static/reports/print.css" in fetcher.fetched
    assert any(u.startswith("data:image/png") for u in fetcher.fetched)
    assert "http://example.com/evil.css" in fetcher.refused
    assert "http://example.com/track.png" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert any("etc/passwd" in u and u.startswith(BASE_URL) for u in fetcher.refused)
    assert any("/media/" in u for u in fetcher.refused)
    assert not any("example.com" in u or "passwd" in u for u in fetcher.fetched)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/static/reports/print.css",
        f"{BASE_URL}static/reports/print.css?x=1",
        f"{BASE_URL}static/evidence/missing.css",
        f"{BASE_URL}static/%2e%2e/%2e%2e/etc/passwd",
        "ftp://static.patchops.invalid/static/reports/print.css",
    ],
)
def test_refused_urls_raise_before_any_io(url):
    fetcher = RestrictedUrlFetcher()
    with pytest.raises(ValueError):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_report_stylesheet_loads_with_the_production_manifest_storage(settings, db):
    """Production serves hashed static names (collectstatic's manifest); the report stylesheet
    must not depend on that manifest, or the fetcher would refuse the hashed name and the PDF
    would lose its print CSS (page numbers, running header)."""
    from datetime import date

    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files import storage
    from django.utils.functional import empty

    from reports.pdf import render_pdf
    from tenants.models import Client

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    storage.storages._storages = {}
    staticfiles_storage._wrapped = empty
    try:
        fetcher = RestrictedUrlFetcher()
        client = Client.objects.get(slug="tenant-a")
        context = {"client": client, "period": date(2026, 10, 1), "period_label": "2026-10"}
        assert render_pdf("reports/pdf/base.html", context, fetcher=fetcher).startswith(b"%PDF")
    finally:
        storage.storages._storages = {}
        staticfiles_storage._wrapped = empty
    assert fetcher.fetched == [f"{BASE_URL}static/reports/print.css"]
    assert fetcher.refused == []
