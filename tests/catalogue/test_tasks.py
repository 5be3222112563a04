import functools
import http.server
import threading

import pytest

from catalogue import tasks
from catalogue.models import CatalogueImport, KevEntry
from catalogue.schedule import BEAT


@pytest.fixture
def feed_server(realdata):
    """A local HTTP server on 127.0.0.1 serving the real data folder."""
    handler = functools.partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(realdata),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.realdata
def test_sync_feeds_downloads_and_imports(feed_server, settings, db):
    settings.CATALOGUE_FEED_URLS = {
        "kev": f"{feed_server}/cisa-kev/known_exploited_vulnerabilities.json",
        "epss": [f"{feed_server}/epss/example-1.csv"],
    }
    result = tasks.sync_feeds()
    assert result["kev"][0]["status"] == "succeeded" and result["kev"][0]["created"] == 1404
    assert result["epss"][0]["created"] == 5
    assert KevEntry.objects.count() == 1404
    row = CatalogueImport.objects.get(kind="kev")
    assert row.source_url.endswith("known_exploited_vulnerabilities.json") and row.sha256
    again = tasks.sync_feeds()
    assert (again["kev"][0]["created"], again["kev"][0]["updated"]) == (0, 0)


@pytest.mark.realdata
def test_sync_feeds_records_failures_and_carries_on(feed_server, settings, db):
    settings.CATALOGUE_FEED_URLS = {
        "msrc": f"{feed_server}/missing/cvrfDocument-2099-Jan.xml",  # 404
        "nvd": f"{feed_server}/epss/example-1.csv",  # wrong file
        "osv": "http://127.0.0.1:9/unreachable.json",  # nothing listens on port 9
        "kev": f"{feed_server}/cisa-kev/known_exploited_vulnerabilities.csv",
    }
    result = tasks.sync_feeds()
    assert [result[k][0]["status"] for k in ("msrc", "nvd", "osv", "kev")] == [
        "failed",
        "failed",
        "failed",
        "succeeded",
    ]
    failed = CatalogueImport.objects.filter(status="failed")
    assert failed.count() == 3
    assert "not valid JSON" in failed.get(kind="nvd").error
    assert KevEntry.objects.count() == 1404


def test_sync_feeds_without_configuration_does_nothing(settings, db):
    settings.CATALOGUE_FEED_URLS = {}
    assert tasks.sync_feeds() == {"skipped": "no feeds configured"}
    assert not CatalogueImport.objects.exists()


def test_sync_feeds_has_a_daily_beat_entry():
    assert BEAT["catalogue-sync-feeds"]["task"] == "catalogue.sync_feeds"
