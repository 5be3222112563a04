"""The load test's harness at tiny bounds: locust (a process of its own, as ``make loadtest``
starts it) runs ``bench/locustfile.py`` for a few seconds against a live server on the test
database, with a client, tokens and accounts made here. Its engineer and owner sign in through
the real pages and add their authenticator app there. No timing is asserted: every endpoint of
the mix was exercised and no request failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connection
from django.test.testcases import LiveServerThread
from django_tenants.utils import tenant_context

from bench import loadtest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def committed(django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def live_url(committed) -> Iterator[str]:
    server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()


@pytest.fixture
def scenario(committed) -> Iterator[dict]:
    """A committed client with reported findings, an agent and a read token, and a new
    engineer and owner without a second factor; dropped (schema and all) afterwards."""
    from tenants.choices import MembershipRole, StaffRole, TokenScope
    from tenants.models import User
    from tenants.services import add_membership, create_client, issue_api_token
    from tests.conftest import PASSWORD
    from tests.producers import reported_finding

    slug = f"loadtest-{uuid.uuid4().hex[:8]}"
    client = create_client(slug=slug, name="Cedar Valley Clinic", timezone_name="America/Chicago")
    engineer = User.objects.create_user(
        email=f"engineer@{slug}.msp.test", password=PASSWORD, staff_role=StaffRole.ENGINEER
    )
    owner = User.objects.create_user(email=f"owner@{slug}.test", password=PASSWORD)
    add_membership(user=owner, client=client, role=MembershipRole.CLIENT_OWNER)
    agent = issue_api_token(name="loadtest-agent", scope=TokenScope.AGENT, client=client)
    read = issue_api_token(name="loadtest-psa", scope=TokenScope.READ, client=client)
    with tenant_context(client):
        findings = [str(reported_finding().uuid) for _ in range(3)]
    connection.set_schema_to_public()
    yield {
        "clients": [slug],
        "agent_tokens": {slug: agent.plaintext},
        "read_token": read.plaintext,
        "accounts": {
            "engineer": {"email": engineer.email, "password": PASSWORD},
            "owner": {"email": owner.email, "password": PASSWORD},
        },
        "owner_client": slug,
        "findings": {slug: findings},
    }
    connection.set_schema_to_public()
    client.delete(force_drop=True)
    # Users are deactivated, never deleted: events and audit records name them.
    User.objects.filter(pk__in=[engineer.pk, owner.pk]).update(is_active=False)
    connection.close()


def test_every_endpoint_of_the_mix_answers_without_errors(live_url, scenario, tmp_path):
    plan, stats = tmp_path / "plan.json", tmp_path / "stats.json"
    plan.write_text(json.dumps({**scenario, "base_url": live_url}))
    locust = Path(sys.executable).parent / "locust"
    done = subprocess.run(
        [
            str(locust),
            "-f",
            str(loadtest.LOCUSTFILE),
            "--headless",
            "--host",
            live_url,
            "--users",
            "8",
            "--spawn-rate",
            "8",
            "--run-time",
            "20s",
            "--stop-timeout",
            "3",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "LOADTEST_PLAN": str(plan),
            "LOADTEST_STATS": str(stats),
            "LOADTEST_MAX_REQUESTS": "150",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert stats.exists(), done.stdout + done.stderr
    result = json.loads(stats.read_text())
    rows, problems = loadtest.report(result)

    assert problems == [], (problems, result["errors"], done.stderr[:3000])
    assert {row["name"] for row in rows} == set(loadtest.ENDPOINTS)
    assert result["total"]["failures"] == 0
    assert done.returncode == 0, done.stderr[-2000:]
    # The agents' pushes reached the client: the devices they named are its assets now.
    from inventory.models import Asset
    from tenants.models import Client

    with tenant_context(Client.objects.get(slug=scenario["clients"][0])):
        pushed = Asset.objects.filter(agent_id__startswith="loadtest-").count()
    by_name = {row["name"]: row for row in rows}
    assert 0 < pushed <= by_name["API discovery push (1 device)"]["requests"]
