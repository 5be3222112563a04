"""The resident agent's run (``patchops-agent run-once``, what the systemd timer, the Windows
scheduled task and the launchd job start every few minutes): read the installed configuration
and the protected token file, ask the server for the client's discovery schedule, push an
inventory when this device's slot has come, run the jobs queued for it, and back off
exponentially while the server cannot be reached or answers errors.

The state file (``resident.json`` in the state folder) keeps the last inventory pushed, the
failures in a row and the time before which no new attempt is made.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from patchops_agent.base import EXIT_OK, EXIT_REMOTE, EXIT_USAGE, UTC, AgentError, log

STATE_FILE = "resident.json"
LOCK_FILE = "run.lock"
# Exponential backoff after a failed run: 5 minutes, doubling, at most 6 hours; each delay is
# drawn between half of it and all of it, so a fleet that lost its server does not return at once.
BACKOFF_BASE_SECONDS = 300
BACKOFF_CAP_SECONDS = 6 * 3600
# The jitter window used when the server names none (the portal sends its own).
DEFAULT_JITTER_SECONDS = 3600


def backoff_delay(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``failures`` failed runs in a row (1 or more): the capped
    exponential delay ``min(cap, base * 2**(failures-1))``, jittered within its upper half."""
    if failures < 1:
        return 0.0
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 30))
    return ceiling / 2 + rand() * ceiling / 2


def stable_jitter(agent_id: str, window_seconds: int) -> int:
    """This device's fixed offset (seconds, ``0 <= offset < window``) after each discovery slot:
    derived from its agent id, so it stays the same from run to run and spreads a fleet."""
    if window_seconds <= 0:
        return 0
    digest = hashlib.sha256(("patchops-discovery:" + agent_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % int(window_seconds)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def discovery_due_at(
    config: dict[str, Any], agent_id: str, now: datetime, last_pushed: datetime | None
) -> datetime | None:
    """When this device's current discovery became due, or None when none is due now.

    ``config["discovery"]`` is the server's answer: ``enabled``, ``slots`` (the client's latest
    scheduled starts at or before the server's now, oldest first, computed by the portal's
    schedule arithmetic) and ``jitter_seconds``. The device's own start is each slot plus its
    stable jitter; the latest such start at or before ``now`` is due when nothing was pushed since.
    A device that never pushed is due at once (it appears in the portal on installation).
    """
    discovery = config.get("discovery") if isinstance(config, dict) else None
    if not isinstance(discovery, dict) or not discovery.get("enabled"):
        return None
    if last_pushed is None:
        return now
    window = discovery.get("jitter_seconds")
    window = window if isinstance(window, int) and window >= 0 else DEFAULT_JITTER_SECONDS
    offset = timedelta(seconds=stable_jitter(agent_id, window))
    starts = [
        slot + offset
        for slot in (parse_time(s) for s in discovery.get("slots") or [])
        if slot is not None and slot + offset <= now
    ]
    if not starts:
        return None
    due = max(starts)
    return due if last_pushed < due else None


# --- the installed configuration and the token file ------------------------------------------


def read_config(path: Path) -> dict[str, Any]:
    """The configuration ``service install`` wrote: ``url``, ``token_file``, ``state_dir``."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AgentError(
            f"cannot read the agent configuration {path} ({exc.strerror}): "
            "install the service first (patchops-agent service install)",
            EXIT_USAGE,
        ) from None
    except ValueError:
        raise AgentError(f"{path} is not a JSON agent configuration", EXIT_USAGE) from None
    if not isinstance(config, dict) or not all(
        isinstance(config.get(key), str) and config.get(key)
        for key in ("url", "token_file", "state_dir")
    ):
        raise AgentError(f"{path} lacks url, token_file or state_dir", EXIT_USAGE)
    return config


def check_token_file(path: Path) -> None:
    """Refuse a token file others may read: on POSIX it must be owned by the user running the
    agent and readable by nobody else (mode 600 or stricter). Windows protects it with its ACL
    (``icacls``, set by ``service install``)."""
    if os.name == "nt":
        return
    try:
        info = path.stat()
    except OSError as exc:
        raise AgentError(
            f"cannot read the token file {path} ({exc.strerror})", EXIT_USAGE
        ) from None
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise AgentError(
            f"the token file {path} is readable by other users (mode {mode:04o}); "
            f"restrict it with: chmod 600 {path}",
            EXIT_USAGE,
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise AgentError(
            f"the token file {path} belongs to another user (uid {info.st_uid}); "
            "it must be owned by the user the agent runs as",
            EXIT_USAGE,
        )


def read_token(path: Path) -> str:
    check_token_file(path)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AgentError(
            f"cannot read the token file {path} ({exc.strerror})", EXIT_USAGE
        ) from None
    if not token or any(c.isspace() for c in token):
        raise AgentError(f"the token file {path} holds no token", EXIT_USAGE)
    return token


# --- the state file ----------------------------------------------------------------------------


def load_state(state_dir: Path) -> dict[str, Any]:
    try:
        state = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def save_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if os.name != "nt":
        temporary.chmod(0o600)
    os.replace(temporary, path)


class RunLock:
    """One run at a time: a second start while a run (a long install) goes on leaves at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def __enter__(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")  # noqa: SIM115 (held for the whole run)
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(self.handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            self.handle = None
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


# --- one run -------------------------------------------------------------------------------------


def run_once(
    config_path: Path,
    *,
    root: Path | None = None,
    dry_run: bool = False,
    timeout: float = 60,
    now: datetime | None = None,
    rand: Callable[[], float] = random.random,
) -> int:
    """One resident run; returns the exit status. ``dry_run`` simulates the jobs (they are
    reported as dry runs); the inventory is still pushed. ``root``: the installation lives below
    that folder (``service install --root``), the configuration's paths with it."""
    from patchops_agent.cli import device_agent_id, run_queued_jobs
    from patchops_agent.client import base_url, fetch_agent_config, push
    from patchops_agent.collect import collect, write_records_mark
    from patchops_agent.service import host_os, host_path

    config = read_config(config_path)
    base = base_url(config["url"])
    os_name = config.get("os") or host_os()
    token = read_token(host_path(config["token_file"], os_name, root))
    state_dir = host_path(config["state_dir"], os_name, root)
    with RunLock(state_dir / LOCK_FILE) as locked:
        if not locked:
            log("another run is still going on; leaving it")
            return EXIT_OK
        now = now or datetime.now(UTC)
        state = load_state(state_dir)
        next_attempt = parse_time(state.get("next_attempt_at"))
        if next_attempt is not None and now < next_attempt:
            failures = state.get("failures", 0)
            log(f"backing off after {failures} failed run(s) until {iso(next_attempt)}")
            return EXIT_OK
        agent = device_agent_id(state_dir)
        try:
            server = fetch_agent_config(base, token, agent, timeout)
            last_pushed = parse_time(state.get("last_discovery_at"))
            due = discovery_due_at(server, agent, now, last_pushed)
            if due is not None:
                payload = collect(state_dir)
                push(payload, base, token, timeout)
                if "os_install_records" in payload:
                    write_records_mark(state_dir, payload["collected_at"])
                state["last_discovery_at"] = iso(now)
                log(f"inventory pushed (due since {iso(due)})")
            ran, failed = run_queued_jobs(
                base, token, state_dir, agent, dry_run=dry_run, timeout=timeout
            )
        except AgentError as exc:
            if exc.status == EXIT_USAGE:
                raise
            failures = int(state.get("failures") or 0) + 1
            delay = backoff_delay(failures, rand)
            state.update(
                failures=failures,
                next_attempt_at=iso(now + timedelta(seconds=delay)),
                last_error=str(exc)[:500],
                last_error_at=iso(now),
            )
            save_state(state_dir, state)
            log(f"error: {exc}; next attempt after {state['next_attempt_at']} (failure {failures})")
            return EXIT_REMOTE
        state.update(failures=0, next_attempt_at=None, last_success_at=iso(now))
        state["discovery"] = server.get("discovery") if isinstance(server, dict) else None
        save_state(state_dir, state)
        log(f"run done: {ran} job(s), {failed} failed")
        return EXIT_OK if failed == 0 else EXIT_REMOTE
