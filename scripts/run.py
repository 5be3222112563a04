#!/usr/bin/env python3
"""`make run`: the whole portal (web, Celery worker, Celery beat) on one machine.

Uses DATABASE_URL / REDIS_URL when set, else an embedded PostgreSQL and Redis under .data/.
Migrates every schema, seeds the demo MSP on first run, prints the URL and the demo logins.
Ctrl-C stops every child.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import services  # noqa: E402

ROOT = services.ROOT
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")
# The Celery queues (patchops/queues.py QUEUES; this script does not import Django).
WORKER_QUEUES = ["celery", "ingest", "reports", "rollouts"]


def main() -> int:
    env = services.environment()
    env.setdefault("DEBUG", "true")
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    env.setdefault("SECURE_COOKIES", "false")
    env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    env.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]

    print("Migrating schemas…", flush=True)
    subprocess.run([*manage, "bootstrap", "-v", "0"], env=env, check=True, cwd=ROOT)
    marker = (
        ROOT / ".data" / f"seeded-{hashlib.sha1(env['DATABASE_URL'].encode()).hexdigest()[:12]}"
    )
    seeded_output = ""
    if not marker.exists():
        print("First run: seeding the demo MSP (a minute)…", flush=True)
        result = subprocess.run(
            [*manage, "seed_demo"], env=env, check=True, cwd=ROOT, capture_output=True, text=True
        )
        seeded_output = result.stdout
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(seeded_output)
    else:
        seeded_output = marker.read_text()

    children = {
        "web": [*manage, "runserver", f"{HOST}:{PORT}", "--noreload"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "patchops",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
            # One worker for every queue (patchops/queues.py); several machines run one per queue.
            "-Q",
            ",".join(env.get("CELERY_QUEUE_PREFIX", "") + q for q in WORKER_QUEUES),
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "patchops",
            "beat",
            "-l",
            "info",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
        ],
    }
    procs: dict[str, subprocess.Popen] = {}
    for name, argv in children.items():
        procs[name] = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True)

    def stop(*_: object) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    signal.signal(signal.SIGHUP, lambda *a: (stop(), sys.exit(0)))
    parent = os.getppid()
    time.sleep(2)
    print(f"\nPatchOps is running at http://{HOST}:{PORT}/  (API docs: /api/docs/)")
    print(f"Passkeys need a host name: open http://localhost:{PORT}/ to register one.")
    print(seeded_output.strip() or "Demo data already present.")
    print("Press Ctrl-C to stop web, worker and beat.\n", flush=True)
    try:
        while True:
            if os.getppid() != parent:
                # make (or the shell) went away without a Ctrl-C: do not leave children behind
                print("Parent process exited; stopping.", file=sys.stderr)
                stop()
                return 0
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping.", file=sys.stderr)
                    stop()
                    return proc.returncode or 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
