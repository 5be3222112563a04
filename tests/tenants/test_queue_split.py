"""Work split by queue: two real Celery workers, one consuming the ingest queue and one the
reports queue, and tasks sent without naming a queue (as production code sends them) each run
on the worker of its own queue, never on the other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from findings.tasks import refresh_client_findings
from patchops import queues
from scorecards.models import ScorecardRow
from scorecards.tasks import record_scorecard_task
from tenants.models import Client, Domain
from tenants.services import create_client
from tests.celery_worker import celery_worker
from tests.producers import Device, push

pytestmark = pytest.mark.celery_worker


@pytest.fixture
def committed(django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def client(committed) -> Iterator[Client]:
    client = create_client(slug=f"queues-{uuid.uuid4().hex[:8]}", name="Queue Split Clinic")
    try:
        yield client
    finally:
        connection.set_schema_to_public()
        ScorecardRow.objects.filter(client_id=client.pk).delete()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
        Domain.objects.filter(tenant_id=client.pk).delete()
        Client.objects.filter(pk=client.pk)._raw_delete(using="default")
        connection.close()


@pytest.fixture
def prefix(settings) -> str:
    """Queue names of this test only (the suite shares one broker)."""
    settings.CELERY_QUEUE_PREFIX = f"test-{uuid.uuid4().hex[:8]}-"
    return settings.CELERY_QUEUE_PREFIX


@pytest.fixture
def workers(prefix) -> Iterator[dict[str, str]]:
    """One worker on the ingest queue, one on the reports queue: their node names."""
    names = {"ingest": f"ingest-{prefix}@test", "reports": f"reports-{prefix}@test"}
    env = {"CELERY_QUEUE_PREFIX": prefix}
    with (
        celery_worker(queue=f"{prefix}ingest", hostname=names["ingest"], **env),
        celery_worker(queue=f"{prefix}reports", hostname=names["reports"], **env),
    ):
        yield names


def test_the_router_sends_each_task_to_its_queue(prefix):
    assert queues.route_task("patchops.refresh_client_findings", (), {}, {}) == {
        "queue": f"{prefix}ingest"
    }
    assert queues.route_task("patchops.record_scorecard", (), {}, {}) == {
        "queue": f"{prefix}reports"
    }
    assert queues.route_task("rings.evaluate_client_rollouts", (), {}, {}) == {
        "queue": f"{prefix}rollouts"
    }
    assert queues.route_task("tenants.heartbeat", (), {}, {}) == {"queue": f"{prefix}celery"}
    assert queues.route_task("tenants.heartbeat", (), {}, {"queue": "mine"}) is None
    assert queues.worker_queues() == ",".join(
        f"{prefix}{q}" for q in ("celery", "ingest", "reports", "rollouts")
    )


def test_an_ingest_task_runs_on_the_ingest_worker_and_a_report_task_on_the_reports_worker(
    client, workers
):
    with tenant_context(client):
        push(Device("WS-001").missing_kb("KB5040442"))
        push(Device("WS-002"))

    matched = refresh_client_findings.apply_async(kwargs={"client_id": client.pk})
    scored = record_scorecard_task.apply_async(kwargs={"client_id": client.pk})
    matched_result = matched.get(timeout=90)
    scored_result = scored.get(timeout=90)

    # Each ran where its queue is consumed, and did its work in the client's schema.
    assert matched.worker == workers["ingest"]
    assert scored.worker == workers["reports"]
    assert matched_result["client"] == client.slug
    assert scored_result["client"] == client.slug
    row = ScorecardRow.objects.get(client=client)
    # Both pushed devices reported their updates and nothing of theirs is overdue.
    assert (row.assets_in_scope, row.compliant_assets) == (2, 2)
    assert str(row.compliance_pct) == scored_result["compliance_pct"] == "100.00"

    # Sent again, both keep to their workers (no worker ever takes the other's queue).
    again = [
        refresh_client_findings.apply_async(kwargs={"client_id": client.pk}),
        record_scorecard_task.apply_async(kwargs={"client_id": client.pk}),
    ]
    for result in again:
        result.get(timeout=90)
    assert [r.worker for r in again] == [workers["ingest"], workers["reports"]]
