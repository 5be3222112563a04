"""Redis down: the API answers 503 JSON with Retry-After, pages say nothing was queued, and both
recover by themselves when Redis is back. A private redis-server is started and stopped."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from patchops.celery import app as celery_app
from reports.models import ReportRequest
from tenants.choices import TokenScope

pytestmark = pytest.mark.django_db
REPORTS_API = "/clients/tenant-a/api/v1/reports/"
REPORTS_PAGE = "/clients/tenant-a/reports/"
LAST_MONTH = {"kind": "monthly", "period": "2026-10"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def _forget_connections() -> None:
    """Drop the app's pooled broker connections, so the next publish connects to the URL set."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker() -> Iterator[PrivateRedis]:
    """The Celery app publishes to a redis-server of the test's own."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis()
    redis.start()
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis.url
    _forget_connections()
    try:
        yield redis
    finally:
        redis.stop()
        celery_app.conf.broker_url = saved
        _forget_connections()


def _queued(redis: PrivateRedis, queue: str = "reports") -> int:
    """Messages waiting on ``queue`` (report requests go to the reports queue)."""
    out = subprocess.run(
        ["redis-cli", "-p", str(redis.port), "llen", queue],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def test_api_answers_503_json_while_redis_is_down_and_recovers(
    broker, api, make_token, tenant_a
) -> None:
    _, token = make_token(TokenScope.WRITE, tenant_a)
    http = api(token)
    http.raise_request_exception = False
    assert settings.CELERY_TASK_ALWAYS_EAGER is False

    broker.stop()
    down = http.post(REPORTS_API, LAST_MONTH, content_type="application/json")
    assert down.status_code == 503
    assert down["Content-Type"] == "application/json"
    assert down["Retry-After"] == "30"
    assert "nothing was queued" in down.json()["detail"]
    with tenant_context(tenant_a):
        assert not ReportRequest.objects.exists()  # nothing recorded for a request not queued

    broker.start()
    back = http.post(REPORTS_API, LAST_MONTH, content_type="application/json")
    assert back.status_code == 202, back.content
    assert _queued(broker) == 1


def test_report_page_says_the_request_was_not_queued_while_redis_is_down(
    broker, login, personas
) -> None:
    http = login(personas.account_manager)
    broker.stop()
    response = http.post(REPORTS_PAGE, LAST_MONTH, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The task queue is unavailable, so nothing was queued" in page
    assert "is being generated" not in page

    broker.start()
    response = http.post(REPORTS_PAGE, LAST_MONTH, follow=True)
    assert "is being generated" in response.content.decode()
    assert _queued(broker) == 1


def test_an_unexpected_api_error_is_json(api, make_token, tenant_a, monkeypatch) -> None:
    """Whatever the cause, an API caller gets JSON; a page gets the plain error page."""
    from reports.api import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.StoredReportViewSet, "list", broken)
    _, token = make_token(TokenScope.READ, tenant_a)
    http = api(token)
    http.raise_request_exception = False
    response = http.get(REPORTS_API)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error; it has been logged."}
    missing = http.get("/clients/tenant-a/api/v1/no-such-resource/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}
