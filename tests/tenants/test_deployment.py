"""Production configuration: compose services name real entry points; check --deploy is clean."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _entry_points(command: list[str]) -> list[tuple[str, str]]:
    """(kind, target) pairs named by a service command, e.g. ("manage", "bootstrap")."""
    if command[:2] == ["sh", "-c"]:
        parts = [p.strip().split() for p in command[2].split("&&")]
    else:
        parts = [command]
    found = []
    for argv in parts:
        if argv[:2] == ["python", "manage.py"]:
            found.append(("manage", argv[2]))
        elif argv[0] == "gunicorn":
            found.append(("wsgi", argv[1]))
        elif argv[0] == "celery":
            found.append(("celery", argv[argv.index("-A") + 1]))
            if "--scheduler" in argv:
                found.append(("object", argv[argv.index("--scheduler") + 1].replace(":", ".")))
    return found


def test_compose_has_the_production_services_with_health_checks():
    services = _compose()["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "web",
        "worker",
        "worker-ingest",
        "worker-reports",
        "worker-rollouts",
        "beat",
    }
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    assert {"pgdata", "media"} <= set(_compose()["volumes"])


@pytest.mark.parametrize(
    "service", ["web", "worker", "worker-ingest", "worker-reports", "worker-rollouts", "beat"]
)
def test_compose_commands_name_real_entry_points(service):
    points = _entry_points(_compose()["services"][service]["command"])
    assert points, f"{service} names no entry point"
    for kind, target in points:
        if kind == "manage":
            assert target in get_commands(), f"no management command {target}"
        elif kind == "wsgi":
            module, attr = target.split(":")
            assert callable(getattr(importlib.import_module(module), attr))
        elif kind == "celery":
            assert importlib.import_module(target).celery_app.main == "patchops"
        elif kind == "object":
            module, attr = target.rsplit(".", 1)
            assert getattr(importlib.import_module(module), attr)


def test_every_queue_has_a_worker_in_compose_and_in_make_run():
    """A routed task needs a worker consuming its queue: compose runs one per queue, and
    ``make run`` one worker consuming them all."""
    from patchops import queues

    consumed = []
    for name, service in _compose()["services"].items():
        argv = service.get("command") or []
        if argv[:1] == ["celery"] and "worker" in argv:
            assert "-Q" in argv, f"{name} consumes no named queue"
            consumed += argv[argv.index("-Q") + 1].split(",")
    assert sorted(consumed) == sorted(queues.QUEUES)
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        run = importlib.import_module("run")
    finally:
        sys.path.pop(0)
    assert run.WORKER_QUEUES == queues.QUEUES
    # Every task routed by name exists under that name.
    from patchops.celery import app

    app.loader.import_default_modules()
    assert set(queues.TASK_QUEUES) <= set(app.tasks)
    assert set(queues.TASK_QUEUES.values()) == set(queues.QUEUES) - {queues.DEFAULT}


def test_dockerfile_cmd_is_the_wsgi_app():
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "patchops.wsgi:application"' in text


def test_env_example_documents_every_required_variable():
    text = (ROOT / ".env.example").read_text()
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "DEBUG"):
        assert f"{name}=" in text


def test_check_deploy_is_clean_under_production_settings():
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SECURE_COOKIES",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_PRELOAD",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    env.update(
        SECRET_KEY="x7#kq2-production-like-secret-9f3b1c8d0a6e4f2b7c5d9e1a3b8f6c4d2e",
        ALLOWED_HOSTS="patchops.example.com",
        DEBUG="false",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_settings_fail_fast_without_required_variables():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
