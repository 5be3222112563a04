"""patchops-agent as a resident service: the files ``service install`` writes for each OS,
generated and then parsed by the OS's own reader where this machine has it (systemd-analyze
verify) and by the format's parser otherwise (plistlib, ElementTree against the Task Scheduler
schema's namespace); the token file's protection; a clean, idempotent uninstall; the backoff
sequence and the per-device discovery jitter. The agent runs as a device runs it: the archive
``make agent`` builds, in its own process."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import shutil
import socket
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchops_agent import resident
from tests.inventory.agent_build import AGENT

TOKEN = "po_abcdefgh_s3cret-agent-token"
URL = "https://portal.example.com/clients/acme/"
TASK = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def agent(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PATCHOPS_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, str(AGENT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        env=environ,
    )


def install(root: Path, *extra: str):
    done = agent(
        "service", "install", "--url", URL, "--root", str(root), "--no-verify", "--token-stdin",
        *extra, stdin=TOKEN + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def files_below(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_linux_units_are_generated_and_pass_systemd_analyze_verify(tmp_path):
    root = tmp_path / "image"
    install(root, "--interval-minutes", "7")

    units = root / "etc/systemd/system"
    service, timer = units / "patchops-agent.service", units / "patchops-agent.timer"
    if SYSTEMD_ANALYZE:
        verified = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", str(service), str(timer)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verified.returncode == 0, verified.stderr
        # Unknown keys and unparsable values are only warnings: none may name our units.
        assert "patchops-agent" not in verified.stderr, verified.stderr
    parsed = configparser.ConfigParser(interpolation=None, strict=True)
    parsed.optionxform = str
    parsed.read_string(service.read_text() + "\n" + timer.read_text().replace("[Unit]", "[T]"))
    assert parsed["Service"]["Type"] == "oneshot"
    # The installed archive runs, with the installed configuration.
    assert parsed["Service"]["ExecStart"].split() == [
        sys.executable,
        "/opt/patchops-agent/patchops-agent.pyz",
        "run-once",
        "--config",
        "/etc/patchops-agent/agent.json",
    ]
    assert parsed["Timer"]["OnUnitInactiveSec"] == "7min"
    assert parsed["Timer"]["Unit"] == "patchops-agent.service"
    assert parsed["Install"]["WantedBy"] == "timers.target"
    assert (root / "opt/patchops-agent/patchops-agent.pyz").read_bytes() == AGENT.read_bytes()
    config = json.loads((root / "etc/patchops-agent/agent.json").read_text())
    assert config == {
        "url": URL,
        "os": "linux",
        "token_file": "/etc/patchops-agent/token",
        "state_dir": "/var/lib/patchops-agent",
    }


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a unit naming a program that is not there does not verify."""
    install(tmp_path, "--python", str(tmp_path / "no-such-python"))
    units = tmp_path / "etc/systemd/system"
    verified = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(units / "patchops-agent.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode != 0
    assert "no-such-python" in verified.stderr


def test_macos_launchd_plist_is_generated_and_parsed(tmp_path):
    install(tmp_path, "--os", "macos", "--interval-minutes", "10", "--python", "/usr/bin/python3")

    plist = plistlib.loads(
        (tmp_path / "Library/LaunchDaemons/com.patchops.agent.plist").read_bytes()
    )
    assert plist["Label"] == "com.patchops.agent"
    assert plist["ProgramArguments"] == [
        "/usr/bin/python3",
        "/usr/local/libexec/patchops-agent/patchops-agent.pyz",
        "run-once",
        "--config",
        "/Library/Application Support/PatchOps/agent/agent.json",
    ]
    assert plist["StartInterval"] == 600
    assert plist["RunAtLoad"] is True
    assert plist["Umask"] == 0o077
    token = tmp_path / "Library/Application Support/PatchOps/agent/token"
    assert token.read_text().strip() == TOKEN


def test_windows_task_xml_is_generated_and_parsed(tmp_path):
    done = install(
        tmp_path, "--os", "windows", "--interval-minutes", "15", "--python", r"C:\Python312\py.exe"
    )

    raw = (tmp_path / "C/ProgramData/PatchOps/agent/patchops-agent-task.xml").read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16 with its byte order mark, as schtasks reads it
    task = ET.fromstring(raw)
    assert task.tag == f"{TASK}Task"
    assert task.get("version") == "1.2"
    assert task.findtext(f"{TASK}RegistrationInfo/{TASK}URI") == r"\PatchOps\PatchOps Agent"
    repetition = task.find(f"{TASK}Triggers/{TASK}TimeTrigger/{TASK}Repetition")
    assert repetition.findtext(f"{TASK}Interval") == "PT15M"
    assert task.find(f"{TASK}Triggers/{TASK}BootTrigger") is not None
    assert task.findtext(f"{TASK}Principals/{TASK}Principal/{TASK}UserId") == "S-1-5-18"
    assert task.findtext(f"{TASK}Settings/{TASK}MultipleInstancesPolicy") == "IgnoreNew"
    execute = task.find(f"{TASK}Actions/{TASK}Exec")
    assert execute.findtext(f"{TASK}Command") == r"C:\Python312\py.exe"
    assert execute.findtext(f"{TASK}Arguments") == (
        r'"C:\Program Files\PatchOps\Agent\patchops-agent.pyz" run-once '
        r"--config C:\ProgramData\PatchOps\agent\agent.json"
    )
    # The token's ACL and the task's registration are commands, named (not run below --root).
    assert (
        r"icacls C:\ProgramData\PatchOps\agent\token /inheritance:r /grant:r *S-1-5-18:F "
        r"*S-1-5-32-544:F" in done.stdout
    )
    assert (
        r'schtasks /Create /TN "\PatchOps\PatchOps Agent" /XML '
        r"C:\ProgramData\PatchOps\agent\patchops-agent-task.xml /F" in done.stdout
    )


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_dry_run_prints_files_and_commands_and_writes_nothing(tmp_path, os_name):
    done = agent(
        "service", "install", "--os", os_name, "--url", URL, "--root", str(tmp_path),
        "--dry-run", env={"PATCHOPS_TOKEN": TOKEN},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert TOKEN not in done.stdout  # the secret is never printed
    assert "agent.json" in done.stdout and "would run: " in done.stdout
    expected = {
        "linux": "would run: systemctl enable --now patchops-agent.timer",
        "macos": "would run: launchctl bootstrap system /Library/LaunchDaemons/com.patchops.agent",
        "windows": "would run: icacls C:\\ProgramData\\PatchOps\\agent\\token /inheritance:r",
    }[os_name]
    assert expected in done.stdout


def test_token_file_is_private_and_a_readable_one_is_refused(tmp_path):
    install(tmp_path)
    folder, token = tmp_path / "etc/patchops-agent", tmp_path / "etc/patchops-agent/token"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var/lib/patchops-agent").stat().st_mode) == 0o700
    assert token.read_text().strip() == TOKEN

    token.chmod(0o644)
    done = agent("run-once", "--root", str(tmp_path))

    assert done.returncode == 2
    assert f"the token file {token} is readable by other users (mode 0644)" in done.stderr
    assert f"chmod 600 {token}" in done.stderr
    assert not (tmp_path / "var/lib/patchops-agent/resident.json").exists()  # nothing ran


def test_install_refuses_bad_input_and_changes_nothing(tmp_path):
    cases = [
        (["--url", "ftp://portal/clients/a/"], TOKEN, "bad --url"),
        (["--url", URL, "--interval-minutes", "0"], TOKEN, "between 1 and 60"),
        (["--url", URL], "", "no agent token"),
        (["--url", URL, "--os", "windows"], TOKEN, "this machine is not windows"),
    ]
    for args, token, message in cases:
        root = [] if "--os" in args else ["--root", str(tmp_path)]
        done = agent(
            "service", "install", *args, *root, "--no-verify", "--token-stdin",
            stdin=token + "\n",
        )  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_uninstall_removes_everything_and_runs_again_cleanly(tmp_path, os_name):
    install(tmp_path, "--os", os_name, "--python", "/usr/bin/python3")
    (tmp_path / "state-marker").write_text("not the agent's")
    state_dir = {
        "linux": "var/lib/patchops-agent",
        "macos": "Library/Application Support/PatchOps/agent/state",
        "windows": "C/ProgramData/PatchOps/agent/state",
    }[os_name]
    resident.save_state(tmp_path / state_dir, {"failures": 2})
    (tmp_path / state_dir / "agent-id").write_text("agent-1234\n")
    installed = files_below(tmp_path) - {"state-marker"}
    assert len(installed) >= 5

    preview = agent("service", "uninstall", "--os", os_name, "--root", str(tmp_path), "--dry-run")
    assert preview.returncode == 0
    assert files_below(tmp_path) - {"state-marker"} == installed

    done = agent("service", "uninstall", "--os", os_name, "--root", str(tmp_path))

    assert done.returncode == 0, done.stderr
    assert files_below(tmp_path) == {"state-marker"}
    for name in ("token", "agent.json"):
        assert any(
            line.startswith("removed ") and line.endswith(name) for line in done.stdout.splitlines()
        )
    assert f"removed {tmp_path / state_dir}" in done.stdout
    status = agent("service", "status", "--os", os_name, "--root", str(tmp_path))
    assert status.returncode == 3 and "not installed" in status.stdout
    again = agent("service", "uninstall", "--os", os_name, "--root", str(tmp_path))
    assert again.returncode == 0
    assert "nothing installed to remove" in again.stdout


def test_backoff_doubles_from_five_minutes_up_to_six_hours_with_jitter():
    # The policy as the README states it: 5 min, doubling, at most 6 h; drawn in the upper half.
    ceilings = [300, 600, 1200, 2400, 4800, 9600, 19200, 21600, 21600, 21600]
    for failures, ceiling in enumerate(ceilings, start=1):
        assert resident.backoff_delay(failures, rand=lambda: 0.0) == ceiling / 2
        assert resident.backoff_delay(failures, rand=lambda: 1.0) == ceiling
        assert ceiling / 2 <= resident.backoff_delay(failures) <= ceiling
    assert resident.backoff_delay(0) == 0
    assert resident.backoff_delay(500, rand=lambda: 1.0) == 21600


def test_jitter_is_stable_per_device_and_spread_within_the_window():
    window = 3600
    ids = [f"agent-{n:04d}" for n in range(400)]
    offsets = [resident.stable_jitter(i, window) for i in ids]

    assert offsets == [resident.stable_jitter(i, window) for i in ids]
    assert all(0 <= o < window for o in offsets)
    # A fleet spreads over the window: every six-minute tenth of it holds some devices.
    assert {o // 360 for o in offsets} == set(range(10))
    assert resident.stable_jitter("agent-0001", 0) == 0


def test_discovery_is_due_at_the_slot_plus_the_device_jitter():
    device = "agent-0042"
    offset = timedelta(seconds=resident.stable_jitter(device, 1800))
    slot = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
    config = {
        "discovery": {
            "enabled": True,
            "slots": [resident.iso(slot - timedelta(days=1)), resident.iso(slot)],
            "jitter_seconds": 1800,
        }
    }
    pushed_yesterday = slot - timedelta(days=1) + offset + timedelta(minutes=1)
    just_before = slot + offset - timedelta(seconds=1)

    assert resident.discovery_due_at(config, device, just_before, pushed_yesterday) is None
    assert resident.discovery_due_at(config, device, slot + offset, pushed_yesterday) == (
        slot + offset
    )
    assert resident.discovery_due_at(config, device, slot + offset, slot + offset) is None
    # Never pushed: due at once; switched off: never.
    assert resident.discovery_due_at(config, device, just_before, None) == just_before
    off = {"discovery": {**config["discovery"], "enabled": False}}
    assert resident.discovery_due_at(off, device, slot + offset, None) is None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_backs_off_and_the_state_remembers_the_next_attempt(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/clients/acme/"
    done = agent(
        "service", "install", "--url", url, "--root", str(tmp_path), "--no-verify",
        env={"PATCHOPS_TOKEN": TOKEN},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = tmp_path / "etc/patchops-agent/agent.json"
    state_dir = tmp_path / "var/lib/patchops-agent"
    start = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)

    moments = []
    now = start
    for failures in (1, 2, 3):
        status = resident.run_once(config, root=tmp_path, now=now, rand=lambda: 1.0)
        state = resident.load_state(state_dir)
        assert status == 1
        assert state["failures"] == failures
        assert "cannot reach" in state["last_error"]
        next_attempt = resident.parse_time(state["next_attempt_at"])
        assert next_attempt == now + timedelta(seconds=300 * 2 ** (failures - 1))
        # A start before that time leaves at once (no attempt, the count unchanged).
        assert (
            resident.run_once(config, root=tmp_path, now=next_attempt - timedelta(seconds=1)) == 0
        )
        assert resident.load_state(state_dir)["failures"] == failures
        moments.append(next_attempt)
        now = next_attempt
    assert moments == [
        start + timedelta(minutes=5),
        start + timedelta(minutes=15),
        start + timedelta(minutes=35),
    ]
