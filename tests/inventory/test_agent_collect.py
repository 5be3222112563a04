"""patchops-agent collect, run for real on this Linux machine, printed and pushed to a stub API."""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inventory.agent_build import AGENT, PACKAGE
from tests.inventory.agent_stub import start_stub

needs_dpkg = pytest.mark.skipif(
    shutil.which("dpkg-query") is None or not Path("/etc/os-release").exists(),
    reason="needs a Debian-family machine",
)


@pytest.fixture
def stub():
    server, stop = start_stub()
    yield server
    stop()


def run_agent(*args: str, state_dir: Path, env: dict[str, str] | None = None, python=None):
    environ = {k: v for k, v in os.environ.items() if k != "PATCHOPS_TOKEN"}
    environ.update(env or {})
    return subprocess.run(
        [python or sys.executable, str(AGENT), *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=180,
        env=environ,
    )


def _os_release() -> dict[str, str]:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            values[key] = value.strip('"')
    return values


@needs_dpkg
def test_collect_dry_run_finds_this_machine_os_and_packages(tmp_path):
    done = run_agent("collect", "--dry-run", state_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    release = _os_release()
    assert payload["os_version"]["name"] == release["NAME"]
    assert payload["os_version"]["platform"] == release["ID"]
    assert payload["os_version"]["version_id"] == release.get("VERSION_ID", "")
    assert payload["system_info"]["hostname"] == socket.gethostname()
    listed = subprocess.run(["dpkg-query", "-W"], capture_output=True, check=True).stdout
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\\n"], capture_output=True, check=True
    ).stdout.split(b"\n")
    assert len(payload["deb_packages"]) == sum(1 for s in installed if s[:2] in (b"ii", b"hi"))
    assert (
        0.9 * len(listed.splitlines()) <= len(payload["deb_packages"]) <= len(listed.splitlines())
    )
    assert len(payload["deb_packages"]) > 100
    versions = {p["name"]: p["version"] for p in payload["deb_packages"]}
    assert "dpkg" in versions and "bash" in versions
    # apt's simulation ran: every pending update names an installed package at its version.
    assert isinstance(payload["pending_updates"], list)
    for update in payload["pending_updates"]:
        assert update["source"] == "apt"
        if update["installed_version"]:
            assert versions.get(update["name"]) == update["installed_version"]
    assert "rpm_packages" not in payload or payload["rpm_packages"] is not None
    assert {"interface_addresses", "interface_details"} <= set(payload)
    assert any(a["address"] == "127.0.0.1" for a in payload["interface_addresses"])
    assert payload["agent_id"] == (tmp_path / "agent-id").read_text().strip()


@needs_dpkg
def test_collect_agent_id_is_stable_across_runs(tmp_path):
    first = json.loads(run_agent("--dry-run", "--no-pending", state_dir=tmp_path).stdout)
    second = json.loads(run_agent("--dry-run", "--no-pending", state_dir=tmp_path).stdout)

    assert first["agent_id"] == second["agent_id"]
    assert "pending_updates" not in first  # not collected, so not claimed empty


@needs_dpkg
def test_collect_pushes_payload_with_bearer_token(tmp_path, stub):
    stub.route("POST", "/clients/acme/api/v1/discovery/", 202, {"assets": 1})

    done = run_agent(
        "collect",
        "--url",
        stub.base.rstrip("/"),
        "--token",
        "agent-secret",
        "--no-pending",
        state_dir=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    [request] = stub.requests
    assert request.method == "POST"
    assert request.path == "/clients/acme/api/v1/discovery/"
    assert request.headers["Authorization"] == "Bearer agent-secret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("patchops-agent/")
    body = request.json()
    assert body["agent_id"] == (tmp_path / "agent-id").read_text().strip()
    assert body["os_version"]["name"] == _os_release()["NAME"]
    assert len(body["deb_packages"]) > 100


@needs_dpkg
def test_collect_token_from_environment(tmp_path, stub):
    stub.route("POST", "/clients/acme/api/v1/discovery/", 201, None)

    done = run_agent(
        "--url", stub.base, "--no-pending", state_dir=tmp_path, env={"PATCHOPS_TOKEN": "from-env"}
    )

    assert done.returncode == 0, done.stderr
    assert stub.requests[0].headers["Authorization"] == "Bearer from-env"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            401,
            {"detail": "Invalid token."},
            "HTTP 401 (the token is missing, wrong or revoked): Invalid token.",
        ),
        (413, {"detail": "Payload too large."}, "HTTP 413"),
        (500, None, "HTTP 500"),
    ],
)
def test_collect_server_error_exits_1_with_clear_message(tmp_path, stub, status, body, expected):
    stub.route("POST", "/clients/acme/api/v1/discovery/", status, body)

    done = run_agent("--url", stub.base, "--token", "t", "--no-pending", state_dir=tmp_path)

    assert done.returncode == 1
    assert expected in done.stderr
    assert done.stdout == ""


def test_collect_unreachable_server_exits_1(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there

    done = run_agent(
        "--url",
        f"http://127.0.0.1:{port}/clients/acme/",
        "--token",
        "t",
        "--no-pending",
        state_dir=tmp_path,
    )

    assert done.returncode == 1
    assert f"cannot reach http://127.0.0.1:{port}/clients/acme/api/v1/discovery/" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://portal/clients/acme/", "--token", "t"], "bad --url"),
        (["--url", "not a url", "--token", "t"], "bad --url"),
        (["--url", "http://127.0.0.1:9/clients/acme/"], "no agent token"),
        ([], "no server URL"),
    ],
)
def test_collect_bad_usage_exits_2(tmp_path, args, message):
    done = run_agent(*args, "--no-pending", state_dir=tmp_path)

    assert done.returncode == 2
    assert message in done.stderr


@needs_dpkg
def test_agent_runs_as_a_single_copied_file_with_only_the_standard_library(tmp_path):
    copy = tmp_path / "patchops-agent.pyz"
    shutil.copy(AGENT, copy)
    python3 = shutil.which("python3", path="/usr/bin:/bin") or shutil.which("python3")

    done = subprocess.run(
        [
            python3,
            "-I",
            str(copy),
            "collect",
            "--dry-run",
            "--no-pending",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)},
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["os_version"]["name"] == _os_release()["NAME"]


def test_agent_imports_only_standard_library_modules():
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"relative import in {path.name}"
                modules.add(node.module.split(".")[0])

    assert modules - {"__future__", "patchops_agent"} <= set(sys.stdlib_module_names)
    assert "inventory" not in modules and "django" not in modules


def test_agent_package_imports_without_django(tmp_path):
    """The package itself (not only the archive) imports in a bare interpreter: no Django
    settings, no project on the path beyond the package's own folder."""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import patchops_agent.cli, patchops_agent.parsers.linux; "
            "print('django' in sys.modules)",
            str(PACKAGE.parent),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_agent_console_script_is_installed():
    script = Path(sys.executable).parent / "patchops-agent"
    if not script.exists():
        pytest.skip("package not installed in this environment")

    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)

    assert done.returncode == 0
    assert done.stdout.startswith("patchops-agent ")


def _old_interpreters() -> list[str]:
    """Python 3.7 and 3.8 interpreters on this machine, if any (devices often run old ones)."""
    found = []
    for version in ("3.7", "3.8"):
        for candidate in sorted(
            (Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python3")
        ):
            found.append(str(candidate))
            break
    return found


@needs_dpkg
@pytest.mark.parametrize("python", _old_interpreters() or [None])
def test_agent_single_file_runs_on_old_python(tmp_path, python):
    if python is None:
        pytest.skip("no Python 3.7/3.8 interpreter on this machine")
    copy = tmp_path / "patchops-agent.pyz"
    shutil.copy(AGENT, copy)

    done = subprocess.run(
        [python, "-I", str(copy), "--dry-run", "--no-pending", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["deb_packages"]) > 100
