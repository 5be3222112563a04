"""What a benchmark answers: its figures and its ratios against a baseline measured in the same
run, each ratio with its target (informational below full scale). ``python -m bench`` writes them,
with the machine and the commit, to ``bench/results/<name>.json``; ``bench.compare`` sets two
such folders side by side.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Ratio:
    """``value / baseline`` (both in ``unit``); ``target`` as ``"<= 2"`` or ``">= 0.5"``."""

    name: str
    value: float
    baseline: float
    unit: str = "s"
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool | None:
        """Whether the ratio meets its target; None without one."""
        if not self.target:
            return None
        op, _, bound = self.target.partition(" ")
        return self.ratio <= float(bound) if op == "<=" else self.ratio >= float(bound)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 4), "met": self.met}


@dataclass
class Result:
    """One benchmark's answer: plain figures (sizes, rates, seconds) and its ratios."""

    figures: dict[str, Any] = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)


def _run(*args: str) -> str:
    try:
        return subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """The machine and code a figure was measured on: cores, CPU, memory, versions, commit."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "commit": _run("git", "rev-parse", "HEAD"),
        "dirty": bool(_run("git", "status", "--porcelain", "--untracked-files=no")),
    }
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = cursor.fetchone()[0]
    except Exception:  # noqa: BLE001 - machine info must never fail a run
        info["postgresql"] = ""
    return info


def write(name: str, payload: dict[str, Any], folder: Path = RESULTS) -> Path:
    """Write ``payload`` as ``<folder>/<name>.json`` and answer the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def format_ratio(ratio: Ratio, full_scale: bool) -> str:
    """One line: the ratio, its two figures and its target (met, or missed)."""
    verdict = ""
    if ratio.target:
        if ratio.met:
            verdict = f"target {ratio.target}: met"
        else:
            verdict = f"target {ratio.target}: MISSED" + ("" if full_scale else " (informational)")
    return (
        f"   {ratio.name:<44} {ratio.ratio:>9.2f}x  ({ratio.value:.4g} / {ratio.baseline:.4g} "
        f"{ratio.unit})  {verdict}"
    )


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names when it does not exist yet (a fresh CI
    machine has only the server); answer whether it was created."""
    from urllib.parse import unquote, urlsplit

    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    if not parts.hostname:  # a socket in a query string: the embedded server, made by services.py
        return False
    name = unquote(parts.path.lstrip("/"))
    params = {
        "dbname": "postgres",
        "host": parts.hostname or None,
        "port": parts.port or None,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v is not None})
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        conn.close()
