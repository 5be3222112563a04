"""A real Celery worker for tests: a ``celery -A patchops worker`` process on a queue of its own,
against this session's test database and the suite's Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the test database this session created (the worker must use it too)."""
    cfg = connection.settings_dict
    user = quote(cfg["USER"] or "")
    password = f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else ""
    host = cfg.get("HOST") or cfg.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):
        return f"postgres://{user}{password}@{quote(host, safe='')}/{cfg['NAME']}"
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{cfg['NAME']}"


@contextmanager
def celery_worker(
    *, pool: str = "solo", queue: str = "", hostname: str = "", **env: str
) -> Iterator[str]:
    """Start a worker consuming a fresh queue (or ``queue``); yields the queue's name. ``env``
    adds settings; ``pool="prefork"`` runs tasks in one child process (whose pid
    ``worker_children`` names); ``hostname`` is the worker's node name (``-n``). ``queue`` may
    already hold messages."""
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    # The worker's output goes to a file: an unread pipe would fill up and stall the worker.
    with tempfile.TemporaryFile() as log:
        yield from _run(queue, log, env, pool, hostname)


def worker_children(queue: str) -> list[int]:
    """The pool processes of the prefork worker consuming ``queue``."""
    main = _WORKERS[queue].pid
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == main:  # the field after the state is the parent's pid
            children.append(int(stat.parent.name))
    return children


_WORKERS: dict[str, subprocess.Popen] = {}


def _run(queue: str, log, env: dict[str, str], pool: str, hostname: str) -> Iterator[str]:
    pool_args = ["-P", "prefork", "-c", "1"] if pool == "prefork" else ["-P", "solo"]
    if hostname:
        pool_args += ["-n", hostname]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "patchops",
            "worker",
            *pool_args,
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=dict(os.environ, DATABASE_URL=database_url(), **env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _WORKERS[queue] = proc
    try:
        yield queue
    finally:
        _WORKERS.pop(queue, None)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
