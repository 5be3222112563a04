"""A report survives its worker dying and PostgreSQL dropping its connections mid-render: the
task is delivered again or retried and the request ends ready with exactly one stored report.

Everything runs through the real app: a committed client of this module's own, Redis, and a
prefork Celery worker process whose pool child is killed (SIGKILL) or whose database
connections are terminated the way a PostgreSQL restart terminates them.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from datetime import date

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from reports import requests
from reports.models import ReportRequest, StoredReport
from reports.tasks import generate_report_task
from tenants.models import Client, Domain, EvidenceCheckpoint
from tenants.services import create_client
from tests.celery_worker import celery_worker, worker_children

pytestmark = pytest.mark.celery_worker
PERIOD = date(2026, 10, 1)


@pytest.fixture(scope="module")
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def client(committed):
    client = create_client(slug=f"faults-{uuid.uuid4().hex[:8]}", name="Faults Clinic")
    try:
        yield client
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
        Domain.objects.filter(tenant_id=client.pk).delete()
        EvidenceCheckpoint.objects.filter(client_id=client.pk).delete()
        Client.objects.filter(pk=client.pk)._raw_delete(using="default")
        connection.close()


@pytest.fixture(scope="module")
def worker(committed):
    with celery_worker(pool="prefork") as queue:
        yield queue


def _request(client, queue: str) -> ReportRequest:
    with tenant_context(client):
        return requests.request_report(
            client=client,
            kind="inventory",
            period=PERIOD,
            actor="engineer@msp.test",
            queue=lambda made: generate_report_task.apply_async(
                kwargs={"request": str(made.uuid)}, queue=queue
            ),
        )


def _wait_for(client, made: ReportRequest, state: str, timeout: float = 90) -> ReportRequest:
    deadline = time.monotonic() + timeout
    with tenant_context(client):
        while time.monotonic() < deadline:
            made.refresh_from_db()
            if made.state == state:
                return made
            time.sleep(0.02)
    raise AssertionError(f"request still {made.state} after {timeout} s (wanted {state})")


def _reports_of(client, made: ReportRequest) -> int:
    with tenant_context(client):
        return StoredReport.objects.filter(kind=made.kind, period=made.period).count()


def test_a_worker_killed_mid_render_is_delivered_again_and_stores_one_report(client, worker):
    before = _reports_of(client, ReportRequest(kind="inventory", period=PERIOD))
    made = _request(client, worker)
    _wait_for(client, made, "running")
    [child] = worker_children(worker)
    os.kill(child, signal.SIGKILL)

    done = _wait_for(client, made, "ready")
    assert done.attempts == 2  # the killed attempt, then the one after re-delivery
    assert _reports_of(client, made) == before + 1
    with tenant_context(client):
        assert done.report.request == done


def test_database_connections_dropped_mid_render_are_retried_to_one_report(client, worker):
    before = _reports_of(client, ReportRequest(kind="inventory", period=PERIOD))
    made = _request(client, worker)
    _wait_for(client, made, "running")
    with connection.cursor() as cursor:  # what a PostgreSQL restart does to every client
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    done = _wait_for(client, made, "ready")
    assert done.attempts >= 2
    assert _reports_of(client, made) == before + 1
