"""The RMM webhook connector against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from integrations.connectors import SIGNATURE_HEADER, WebhookConnector, get_connector
from integrations.models import RmmWebhook, WebhookDelivery
from rings.services import assign_rings, create_rollout, evaluate_rollout
from tests.producers import maintenance_window, office

pytestmark = pytest.mark.django_db


class Recorder(BaseHTTPRequestHandler):
    received: list = []
    statuses: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((self.headers, body))
        status = Recorder.statuses.pop(0) if Recorder.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Recorder.received = []
    Recorder.statuses = []
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/hook"
    httpd.shutdown()
    httpd.server_close()


def test_webhook_posts_signed_json(in_tenant_a, server):
    hook = RmmWebhook.objects.create(name="RMM", url=server, secret="s3cret", max_attempts=1)
    delivery = WebhookConnector(hook).send("wave.deploy", {"wave": "w1", "assets": []})
    assert delivery.status == "delivered" and delivery.attempts == 1
    headers, body = Recorder.received[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers.get(SIGNATURE_HEADER) == expected
    assert json.loads(body) == {"event": "wave.deploy", "wave": "w1", "assets": []}


def test_webhook_retries_are_recorded(in_tenant_a, server):
    Recorder.statuses = [500, 503, 200]
    hook = RmmWebhook.objects.create(name="RMM", url=server, secret="k", max_attempts=3)
    delivery = WebhookConnector(hook, backoff_seconds=0).send("asset.snapshot", {"asset": {}})
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert [e["error"] for e in delivery.errors] == ["HTTP 500", "HTTP 503"]


def test_webhook_gives_up_after_max_attempts(in_tenant_a):
    hook = RmmWebhook.objects.create(
        name="Down", url="http://127.0.0.1:9/hook", secret="k", max_attempts=2, timeout_seconds=1
    )
    delivery = WebhookConnector(hook, backoff_seconds=0).send("wave.deploy", {})
    assert delivery.status == "failed" and delivery.attempts == 2 and len(delivery.errors) == 2


def test_wave_deploys_through_the_webhook_when_configured(in_tenant_a, server, personas):
    from datetime import UTC, datetime

    import time_machine

    from rings.models import Wave
    from rings.services import approve_wave

    RmmWebhook.objects.create(name="RMM", url=server, secret="k", max_attempts=1)
    assert isinstance(get_connector(), WebhookConnector)
    with time_machine.travel(datetime(2026, 6, 3, 3, 30, tzinfo=UTC), tick=False):
        office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="Via RMM",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        canary = Wave.objects.get(rollout=rollout, ring__key="canary")
        approve_wave(wave=canary, user=personas.engineer)
        assert "wave.deploying" in evaluate_rollout(rollout=rollout)
    delivery = WebhookDelivery.objects.get(event="wave.deploy")
    assert delivery.payload["ring"] == "canary"
    assert len(delivery.payload["assets"]) == canary.results.count()
    assert delivery.payload["assets"][0]["packages"][0]["advisory"] == "KB5030001"
