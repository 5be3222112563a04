"""What every part of the agent shares: exit codes, settings read from the environment,
running a command, and the stable agent id of this device."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__version__ = "1.0.0"


EXIT_OK = 0


EXIT_REMOTE = 1


EXIT_USAGE = 2


STATE_ENV = "PATCHOPS_AGENT_STATE_DIR"


TOKEN_ENV = "PATCHOPS_TOKEN"


URL_ENV = "PATCHOPS_URL"


COMMAND_TIMEOUT = 300


INSTALL_TIMEOUT = 3600


# Devices may run an older Python than the portal: keep this file valid on 3.7 and later.
UTC = timezone.utc  # noqa: UP017 (datetime.UTC is 3.11+)


_AGENT_NAMESPACE = uuid.UUID("6f1c2a52-6b0e-4d1e-9f5e-3b1d8a7c9e10")


class AgentError(Exception):
    """A failure reported to the user with a clear message and an exit status."""

    def __init__(self, message: str, status: int = EXIT_REMOTE) -> None:
        super().__init__(message)
        self.status = status


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def log(message: str) -> None:
    print(f"patchops-agent: {message}", file=sys.stderr)


def run(
    args: list[str],
    *,
    ok_codes: tuple[int, ...] = (0,),
    timeout: int = COMMAND_TIMEOUT,
    env: dict[str, str] | None = None,
) -> str | None:
    """Run a command and return its standard output, or None when the tool is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode not in ok_codes:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def read_text(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def split_version(version: str | None) -> dict[str, int]:
    parts = re.findall(r"\d+", version or "")
    keys = ("major", "minor", "patch")
    return {keys[index]: int(value) for index, value in enumerate(parts[:3])}


def default_state_dir() -> Path:
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    if os.name == "nt":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "PatchOps" / "agent"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/patchops-agent")
    return Path.home() / ".patchops-agent"


def agent_id(state_dir: Path, system_info: dict[str, Any]) -> str:
    """The stable id of this device: read from the state file, created on first run.

    When the state file cannot be written the id is derived from the machine's own UUID, so it
    still stays the same from one run to the next.
    """
    path = state_dir / "agent-id"
    existing = read_text(path)
    if existing and re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", existing):
        return existing
    machine = system_info.get("uuid") or system_info.get("hostname") or ""
    new_id = str(uuid.uuid5(_AGENT_NAMESPACE, machine)) if machine else str(uuid.uuid4())
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(new_id + "\n", encoding="utf-8")
        if os.name != "nt":
            path.chmod(0o600)
    except OSError as exc:
        log(f"cannot keep the agent id in {path} ({exc.strerror}); using one derived from the host")
    return new_id
