"""A tenant task goes through real Redis to a real worker and runs in its client's schema."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.tasks import current_schema

pytestmark = [pytest.mark.django_db, pytest.mark.celery_worker]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The URL of the test database this session created (the worker must use it too)."""
    cfg = connection.settings_dict
    user = quote(cfg["USER"] or "")
    password = f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else ""
    host = cfg.get("HOST") or cfg.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):
        return f"postgres://{user}{password}@{quote(host, safe='')}/{cfg['NAME']}"
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{cfg['NAME']}"


@pytest.fixture
def worker_queue():
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DATABASE_URL=_database_url())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "patchops",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_task_runs_in_the_schema_of_the_client_it_was_sent_for(tenant_a, tenant_b, worker_queue):
    with tenant_context(tenant_a):
        result_a = current_schema.apply_async(queue=worker_queue)
    with tenant_context(tenant_b):
        result_b = current_schema.apply_async(queue=worker_queue)
    result_public = current_schema.apply_async(queue=worker_queue)
    assert result_a.get(timeout=90) == {"schema": "c_tenant_a", "client": "tenant-a"}
    assert result_b.get(timeout=90) == {"schema": "c_tenant_b", "client": "tenant-b"}
    assert result_public.get(timeout=90)["schema"] == "public"
