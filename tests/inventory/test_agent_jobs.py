"""patchops-agent jobs: fetch the queued jobs from a stub API, run them with apt, report results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.inventory.agent_build import AGENT
from tests.inventory.agent_stub import start_stub

JOBS = "/clients/acme/api/v1/agent-jobs/"
pytestmark = pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg-query") is None,
    reason="the job runner is exercised with apt on a Debian-family machine",
)


@pytest.fixture
def stub():
    server, stop = start_stub()
    yield server
    stop()


def _installed_version(name: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True, check=True
    ).stdout


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _job(job_id: str, packages: list[dict], **extra) -> dict:
    return {
        "id": job_id,
        "action": "install",
        "packages": packages,
        "reboot_policy": "scheduled",
        "not_before": None,
        "not_after": None,
        **extra,
    }


def run_jobs(stub, state_dir: Path, *extra: str):
    environ = {k: v for k, v in os.environ.items() if k != "PATCHOPS_TOKEN"}
    return subprocess.run(
        [
            sys.executable,
            str(AGENT),
            "jobs",
            "--url",
            stub.base,
            "--token",
            "agent-secret",
            "--state-dir",
            str(state_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
    )


def _results(stub) -> dict[str, dict]:
    return {
        r.path.split("/")[-3]: r.json()
        for r in stub.requests
        if r.method == "POST" and r.path.endswith("/result/")
    }


def test_jobs_dry_run_simulates_with_apt_and_reports_each_package(tmp_path, stub):
    bash = _installed_version("bash")
    ok_id, bad_id, later_id, late_id, unsafe_id = (
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
        "33333333-3333-4333-8333-333333333333",
        "44444444-4444-4444-8444-444444444444",
        "55555555-5555-4555-8555-555555555555",
    )
    jobs = [
        _job(ok_id, [{"name": "bash", "version": bash, "advisory": "DSA-0000-1"}]),
        _job(
            bad_id,
            [
                {"name": "bash", "version": None, "advisory": None},
                {"name": "patchops-no-such-package", "version": "1.0", "advisory": None},
            ],
        ),
        _job(
            later_id,
            [{"name": "bash", "version": None, "advisory": None}],
            not_before=_iso(timedelta(hours=2)),
        ),
        _job(
            late_id,
            [{"name": "bash", "version": None, "advisory": None}],
            not_after=_iso(timedelta(hours=-1)),
        ),
        _job(
            unsafe_id,
            [{"name": "-oAPT::Get::Trivial-Only=false", "version": None, "advisory": None}],
        ),
    ]
    stub.route("GET", JOBS, 200, {"count": len(jobs), "results": jobs})
    for job in jobs:
        stub.route("POST", f"{JOBS}{job['id']}/result/", 201, {"status": "recorded"})

    done = run_jobs(stub, tmp_path, "--dry-run")

    assert done.returncode == 1, done.stderr  # some jobs failed
    listing = stub.requests[0]
    agent_id = (tmp_path / "agent-id").read_text().strip()
    assert listing.method == "GET"
    assert listing.path == f"{JOBS}?agent_id={agent_id}"
    assert listing.headers["Authorization"] == "Bearer agent-secret"
    results = _results(stub)
    assert set(results) == {ok_id, bad_id, late_id, unsafe_id}  # the not-yet job waits

    ok = results[ok_id]
    assert ok["agent_id"] == agent_id
    assert ok["status"] == "succeeded" and ok["dry_run"] is True
    assert ok["packages"] == [
        {
            "name": "bash",
            "version": bash,
            "status": "installed",
            "message": ok["packages"][0]["message"],
        }
    ]
    assert f"$ apt-get -s install --no-install-recommends bash={bash}" in ok["log"]
    assert datetime.fromisoformat(
        ok["started_at"].replace("Z", "+00:00")
    ) <= datetime.fromisoformat(ok["finished_at"].replace("Z", "+00:00"))

    bad = results[bad_id]
    assert bad["status"] == "failed"
    assert [p["status"] for p in bad["packages"]] == ["installed", "failed"]
    assert bad["packages"][1]["message"].startswith("exit 100")

    late = results[late_id]
    assert late["status"] == "failed"
    assert late["packages"][0]["status"] == "skipped"
    assert "window closed" in late["packages"][0]["message"]

    unsafe = results[unsafe_id]
    assert unsafe["packages"][0]["status"] == "failed"
    assert "refusing unsafe package name" in unsafe["packages"][0]["message"]
    # A dry run never pushes a fresh inventory.
    assert not any(r.path.endswith("/discovery/") for r in stub.requests)


def test_jobs_no_jobs_exits_0_and_posts_nothing(tmp_path, stub):
    stub.route("GET", JOBS, 200, {"count": 0, "results": []})

    done = run_jobs(stub, tmp_path, "--dry-run")

    assert done.returncode == 0, done.stderr
    assert [r.method for r in stub.requests] == ["GET"]


def test_jobs_follows_pagination(tmp_path, stub):
    page_two = f"{stub.base}api/v1/agent-jobs/page2/"
    stub.route("GET", JOBS, 200, {"count": 1, "next": page_two, "results": []})
    stub.route(
        "GET",
        f"{JOBS}page2/",
        200,
        {
            "count": 1,
            "next": None,
            "results": [
                _job(
                    "66666666-6666-4666-8666-666666666666",
                    [{"name": "bash", "version": None, "advisory": None}],
                )
            ],
        },
    )
    stub.route("POST", f"{JOBS}66666666-6666-4666-8666-666666666666/result/", 201, {})

    done = run_jobs(stub, tmp_path, "--dry-run")

    assert done.returncode == 0, done.stderr
    assert list(_results(stub)) == ["66666666-6666-4666-8666-666666666666"]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"detail": "Invalid token."}, "HTTP 401"),
        (200, ["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_jobs_bad_listing_exits_1(tmp_path, stub, status, body, message):
    stub.route("GET", JOBS, status, body)

    done = run_jobs(stub, tmp_path, "--dry-run")

    assert done.returncode == 1
    assert message in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a real apt-get install needs root")
def test_jobs_real_install_of_current_version_reports_and_pushes_fresh_inventory(tmp_path, stub):
    """apt-get install of the version already installed changes nothing but runs for real."""
    bash = _installed_version("bash")
    job_id = "77777777-7777-4777-8777-777777777777"
    stub.route(
        "GET",
        JOBS,
        200,
        {"results": [_job(job_id, [{"name": "bash", "version": bash, "advisory": None}])]},
    )
    stub.route("POST", f"{JOBS}{job_id}/result/", 201, {})
    stub.route("POST", "/clients/acme/api/v1/discovery/", 202, {})

    done = run_jobs(stub, tmp_path)

    assert done.returncode == 0, done.stderr
    result = _results(stub)[job_id]
    assert result["dry_run"] is False and result["status"] == "succeeded"
    assert f"$ apt-get -y install --no-install-recommends bash={bash}" in result["log"]
    [inventory] = [r for r in stub.requests if r.path.endswith("/discovery/")]
    body = inventory.json()
    assert body["agent_id"] == result["agent_id"]
    assert {p["name"]: p["version"] for p in body["deb_packages"]}["bash"] == bash
    assert [r.path for r in stub.requests].index(inventory.path) > [
        r.path for r in stub.requests
    ].index(f"{JOBS}{job_id}/result/")
    json.dumps(body)  # the pushed inventory is plain JSON


def test_jobs_rollback_simulates_the_downgrade_and_reports_rolled_back(tmp_path, stub):
    """A rollback job returns each package to the version it names (apt --allow-downgrades);
    one without a version to return to is refused rather than reported as undone."""
    bash = _installed_version("bash")
    back_id = "88888888-8888-4888-8888-888888888888"
    blind_id = "99999999-9999-4999-8999-999999999999"
    jobs = [
        _job(
            back_id,
            [{"name": "bash", "version": bash, "advisory": "USN-0000-1"}],
            action="rollback",
        ),
        _job(blind_id, [{"name": "bash", "version": "", "advisory": None}], action="rollback"),
    ]
    stub.route("GET", JOBS, 200, {"results": jobs})
    for job in jobs:
        stub.route("POST", f"{JOBS}{job['id']}/result/", 201, {})

    done = run_jobs(stub, tmp_path, "--dry-run")

    assert done.returncode == 1, done.stderr  # the second one failed
    results = _results(stub)
    back = results[back_id]
    assert back["status"] == "succeeded"
    assert [p["status"] for p in back["packages"]] == ["rolled_back"]
    assert (
        f"$ apt-get -s install --no-install-recommends --allow-downgrades bash={bash}"
        in back["log"]
    )
    blind = results[blind_id]
    assert blind["status"] == "failed"
    assert "needs the version to return to" in blind["packages"][0]["message"]
    assert not any(r.path.endswith("/discovery/") for r in stub.requests)  # a dry run
