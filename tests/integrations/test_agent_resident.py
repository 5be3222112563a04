"""The resident agent against the portal: the agent-config API (the client's discovery schedule
and jitter window), the agent download, the client's agent installer page (an agent token
issued once, audited, commands per OS) and, on a live server, the installer's own shell
commands followed by ``run-once``: the first run pushes this machine's inventory, a run after a
rollout queued a job runs it (dry run) without pushing again, and a run after the next discovery
slot pushes again."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.test import Client as HttpClient
from django.test.testcases import LiveServerThread
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent
from evidence.models import EvidenceEvent
from inventory.models import Asset, DiscoveryRun
from patchops_agent import __version__
from tenants.choices import TokenScope
from tenants.models import ApiToken
from tests.mfa import sign_in

BASE = "/clients/tenant-a/"
CONFIG = f"{BASE}api/v1/agent-config/"
DOWNLOAD = f"{BASE}api/v1/agent/download/"
INSTALL = f"{BASE}agents/install/"
NOON = datetime(2026, 6, 3, 17, 0, tzinfo=UTC)  # 12:00 in Chicago (CDT, UTC-5)


def _agent_http(plaintext: str) -> HttpClient:
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.mark.django_db
def test_agent_config_names_the_clients_schedule_slots_and_jitter(
    tenant_a, personas, make_token, settings
):
    settings.AGENT_DISCOVERY_JITTER_MINUTES = 30
    admin = sign_in(HttpClient(), personas.msp_admin)
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    with time_machine.travel(NOON, tick=False):
        saved = admin.patch(
            f"{BASE}api/v1/discovery-schedule/",
            json.dumps({"local_hour": 3}),
            content_type="application/json",
        )
        assert saved.status_code == 200, saved.content
        response = _agent_http(plaintext).get(CONFIG, {"agent_id": "agent-1234"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["client"] == "tenant-a"
    assert body["agent_version"] == __version__
    # 03:00 in Chicago is 08:00 UTC in June: today's and yesterday's slots, tomorrow's next.
    assert body["discovery"] == {
        "enabled": True,
        "cadence": "daily",
        "local_hour": 3,
        "weekday": 6,
        "time_zone": "America/Chicago",
        "slots": ["2026-06-02T08:00:00Z", "2026-06-03T08:00:00Z"],
        "next_slot": "2026-06-04T08:00:00Z",
        "jitter_seconds": 1800,
    }


@pytest.mark.django_db
def test_agent_config_and_download_answer_agent_tokens_of_the_client_only(
    tenant_a, tenant_b, make_token, tmp_path
):
    _, agent_a = make_token(TokenScope.AGENT, tenant_a)
    _, agent_b = make_token(TokenScope.AGENT, tenant_b)
    _, read_a = make_token(TokenScope.READ, tenant_a)
    _, write_all = make_token(TokenScope.WRITE, None)

    for url in (CONFIG, DOWNLOAD):
        assert HttpClient().get(url).status_code == 401
        assert _agent_http(agent_b).get(url).status_code == 404
        assert _agent_http(read_a).get(url).status_code == 403
        assert _agent_http(write_all).get(url).status_code == 403
    bad = _agent_http(agent_a).get(CONFIG, {"agent_id": "../../etc/passwd"})
    assert bad.status_code == 400
    assert "agent_id" in bad.json()

    response = _agent_http(agent_a).get(DOWNLOAD)

    assert response.status_code == 200
    archive = tmp_path / "patchops-agent.pyz"
    archive.write_bytes(b"".join(response.streaming_content))
    import hashlib

    assert response["X-Content-SHA256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "__main__.py" in zipfile.ZipFile(archive).namelist()
    version = subprocess.run(
        [sys.executable, str(archive), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.stdout.strip() == f"patchops-agent {__version__}"


def _issue(http: HttpClient, name: str = "", host: str = "testserver"):
    return http.post(INSTALL, {"name": name}, HTTP_HOST=host)


@pytest.mark.django_db
def test_installer_page_issues_an_agent_token_shown_once(tenant_a, personas):
    admin = sign_in(HttpClient(), personas.msp_admin)
    assert admin.get(INSTALL).status_code == 200

    response = _issue(admin, "Main office")

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(name="Main office")
    assert (token.scope, token.client, token.created_by) == (
        TokenScope.AGENT,
        tenant_a,
        personas.msp_admin,
    )
    page = html.unescape(response.content.decode())
    [plaintext] = set(re.findall(rf"po_{token.key_id}_[A-Za-z0-9_-]+", page))
    assert token.matches(plaintext.split("_", 2)[2])
    posix = _block(page, "installer-posix")
    windows = _block(page, "installer-windows")
    for commands in (posix, windows):
        assert plaintext in commands
        assert "http://testserver/clients/tenant-a/api/v1/agent/download/" in commands
        assert "service install --url" in commands and "--token-stdin" in commands
    assert "Invoke-WebRequest" in windows and "curl -fsSL" in posix
    # The secret never travels on a command line: standard input and a header read from stdin.
    assert f"--token {plaintext}" not in posix + windows
    assert "Bearer po_" not in posix

    later = html.unescape(admin.get(INSTALL).content.decode())
    assert plaintext not in later
    assert "Main office" in later and token.key_id in later and "Issued, active" in later

    audit = AuditEvent.objects.filter(kind="token.created", client=tenant_a).latest("pk")
    assert audit.actor == personas.msp_admin
    assert audit.detail["scope"] == TokenScope.AGENT
    with tenant_context(tenant_a):
        event = EvidenceEvent.objects.filter(kind="api_token.created").latest("sequence")
        assert event.payload["key_id"] == token.key_id
        assert event.payload["scope"] == TokenScope.AGENT


def _block(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"><code>(.*?)</code>', page, re.S)
    assert match, f"no {testid} on the page"
    return match.group(1)


@pytest.mark.django_db
def test_installer_page_is_for_msp_admins_of_the_client(tenant_a, personas, make_token):
    before = ApiToken.objects.count()
    for user in (personas.engineer, personas.owner_a, personas.viewer_a, personas.account_manager):
        http = sign_in(HttpClient(), user)
        assert http.get(INSTALL).status_code == 403, user.email
        assert _issue(http).status_code == 403, user.email
    for user in (personas.owner_b, personas.nobody):
        http = sign_in(HttpClient(), user)
        assert http.get(INSTALL).status_code == 404, user.email
        assert _issue(http).status_code == 404, user.email
    anonymous = HttpClient().post(INSTALL, {"name": "x"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    _, agent = make_token(TokenScope.AGENT, tenant_a)
    assert _agent_http(agent).get(INSTALL).status_code in (302, 403)
    assert ApiToken.objects.count() == before + 1  # only the agent token made above


@pytest.mark.django_db
def test_installer_page_refuses_bad_names_and_issues_nothing(tenant_a, personas):
    admin = sign_in(HttpClient(), personas.msp_admin)
    before = ApiToken.objects.count()
    for name in ("x" * 101, "<script>alert(1)</script>", "tab\tname"):
        response = _issue(admin, name)
        assert response.status_code == 400, name
        assert "A token name is" in response.content.decode() or "at most 100" in (
            response.content.decode()
        )
        assert "installer-posix" not in response.content.decode()
    assert ApiToken.objects.count() == before

    default = _issue(admin, "")
    assert default.status_code == 201
    assert ApiToken.objects.filter(name__startswith="Agent installer ").count() == 1


# --- on a live server ----------------------------------------------------------------------------


@pytest.fixture
def live_url(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield f"http://127.0.0.1:{server.port}"
        server.terminate()


@pytest.fixture
def fresh_client(django_db_blocker):
    """A committed client of its own (the live server sees it), dropped afterwards."""
    from django.db import connection

    from tenants.services import create_client

    with django_db_blocker.unblock():
        slug = f"agents-{uuid.uuid4().hex[:8]}"
        client = create_client(slug=slug, name="Juniper Dental", timezone_name="America/Chicago")
        yield client
        connection.set_schema_to_public()
        client.delete(force_drop=True)
        connection.close()


def _run(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=stdin)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the installer downloads with curl")
@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian-family machine")
def test_installer_then_run_once_pushes_when_due_and_runs_a_queued_job(
    live_url, fresh_client, tmp_path
):
    from rings.choices import RolloutSelection, WaveState
    from rings.models import Ring, Wave
    from rings.services import approve_wave, create_rollout, evaluate_rollout, pin_asset
    from tenants.models import User
    from tests.producers import Device, all_day_window, push

    # Committed work (no ``db`` fixture, no test transaction): the live server sees it.
    msp_admin = User.objects.get(email="admin@msp.test")
    engineer = User.objects.get(email="engineer@msp.test")
    client = fresh_client
    base = f"/clients/{client.slug}/"
    host = live_url.removeprefix("http://")
    admin = sign_in(HttpClient(), msp_admin)
    # The schedule's slot three hours ago: this device's start (slot + < 1 h) has passed.
    local_now = datetime.now(UTC).astimezone(client.tz)
    slot_hour = (local_now - timedelta(hours=3)).hour
    saved = admin.patch(
        f"{base}api/v1/discovery-schedule/",
        json.dumps({"local_hour": slot_hour}),
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content

    issued = admin.post(f"{base}agents/install/", {"name": "Server room"}, HTTP_HOST=host)
    assert issued.status_code == 201
    script = _block(html.unescape(issued.content.decode()), "installer-posix")
    assert f"{live_url}{base}api/v1/agent/download/" in script
    # The installer as an MSP runs it, below a staging root (this machine's own systemd and
    # /etc stay untouched) and without sudo.
    root = tmp_path / "device"
    script = script.replace("sudo python3", sys.executable).replace(
        "--token-stdin", f"--token-stdin --root {root}"
    )
    installed = _run("sh", "-c", script)
    assert installed.returncode == 0, installed.stderr
    assert "the server at" in installed.stderr and "accepted the token" in installed.stderr
    program = root / "opt/patchops-agent/patchops-agent.pyz"
    state_dir = root / "var/lib/patchops-agent"
    agent = [sys.executable, str(program), "run-once", "--root", str(root), "--dry-run"]

    first = _run(*agent)

    assert first.returncode == 0, first.stderr
    agent_id = (state_dir / "agent-id").read_text().strip()
    state = json.loads((state_dir / "resident.json").read_text())
    assert state["failures"] == 0 and state["last_discovery_at"]
    with tenant_context(client):
        asset = Asset.objects.get(agent_id=agent_id)
        assert DiscoveryRun.objects.count() == 1
        assert asset.hostname

        # The device reports a pending OpenSSL update (ingest, as its next inventory would);
        # a rollout of that finding queues the device's job.
        device = Device(asset.hostname, os="ubuntu", agent_id=agent_id)
        device.packages["openssl"] = "3.0.2-0ubuntu1.15"
        device.missing_package("openssl", "3.0.2-0ubuntu1.16", advisory="USN-6854-1")
        push(device)
        finding = asset.findings.get(patch_identifier="USN-6854-1")
        all_day_window(admin, slug=client.slug)
        pin_asset(asset=asset, ring=Ring.objects.order_by("order").first(), actor=engineer)
        rollout = create_rollout(
            name="OpenSSL",
            actor=engineer,
            selection=RolloutSelection.FINDINGS,
            finding_ids=[finding.uuid],
        )
        evaluate_rollout(rollout=rollout)
        for wave in Wave.objects.filter(
            rollout=rollout, state=WaveState.AWAITING, approval__isnull=True
        ):
            approve_wave(wave=wave, user=engineer)
        evaluate_rollout(rollout=rollout)
        [job] = list(asset.agent_jobs.all())
        runs_before = DiscoveryRun.objects.count()

    second = _run(*agent)

    with tenant_context(client):
        job.refresh_from_db()
        assert DiscoveryRun.objects.count() == runs_before  # nothing due: no push
        [report] = job.dry_run_results
        # The machine's own package tool decides the dry run's outcome; the exit status says it.
        assert second.returncode == (0 if report["status"] == "succeeded" else 1), second.stderr
        assert f"job {job.uuid}: {report['status']}" in second.stderr
        assert [p["name"] for p in report["packages"]] == [p["name"] for p in job.packages]
        assert job.status == "queued"  # a dry run never marks anything deployed

    # A day on: the last push was before the latest slot, so the next run pushes again.
    state = json.loads((state_dir / "resident.json").read_text())
    slots = json.loads(json.dumps(state["discovery"]["slots"]))
    last_slot = datetime.fromisoformat(slots[-1].replace("Z", "+00:00"))
    state["last_discovery_at"] = (last_slot - timedelta(minutes=1)).isoformat()
    (state_dir / "resident.json").write_text(json.dumps(state))

    third = _run(*agent)

    assert third.returncode in (0, 1), third.stderr
    assert "inventory pushed" in third.stderr
    with tenant_context(client):
        assert DiscoveryRun.objects.count() == runs_before + 1
        assert DiscoveryRun.objects.order_by("-pk").first().source == "agent"
    assert (root / "etc/systemd/system/patchops-agent.timer").exists()

    removed = _run(sys.executable, str(program), "service", "uninstall", "--root", str(root))
    assert removed.returncode == 0, removed.stderr
    assert not any(p.is_file() for p in root.rglob("*"))
    assert Path(tmp_path).exists()
