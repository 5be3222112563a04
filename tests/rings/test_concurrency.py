"""Two promoters race on the same rollout with real, concurrent transactions.

The data is committed in a client created for this test (so both threads' connections see it)
and removed afterwards; the rolled-back test transaction of other tests is not used here.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from integrations.models import AgentJob
from rings.choices import RolloutSelection, WaveState
from rings.models import Rollout, Wave
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from tenants.models import Client, Domain, User
from tenants.services import create_client
from tests.producers import maintenance_window, office
from tests.rings.helpers import pass_runbook, report_jobs

# Tuesday 2026-06-02 22:30 UTC: inside the nightly window.
NIGHT = datetime(2026, 6, 2, 22, 30, tzinfo=UTC)


@pytest.fixture
def race_client(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        client = create_client(slug=f"race-{uuid.uuid4().hex[:8]}", name="Race Clinic")
        try:
            yield client
        finally:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
            Domain.objects.filter(tenant_id=client.pk).delete()
            Client.objects.filter(pk=client.pk)._raw_delete(using="default")
            # Outside a test transaction this connection would outlive the session (and block
            # dropping the test database) when another context opened it: close it now.
            connection.close()


def _race(client: Client, rollout_id: int, at: datetime, workers: int = 2) -> list:
    barrier = threading.Barrier(workers)
    outcomes: list = [None] * workers

    def work(index: int) -> None:
        try:
            with tenant_context(client):
                rollout = Rollout.objects.get(pk=rollout_id)
                barrier.wait(timeout=10)
                outcomes[index] = evaluate_rollout(rollout=rollout, at=at)
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    return outcomes


def test_two_promoters_never_promote_twice_or_skip_a_ring(race_client):
    engineer = User.objects.get(email="engineer@msp.test")
    with tenant_context(race_client):
        with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
            fleet = office()
            maintenance_window(duration_minutes=600)
        assign_rings()
        rollout = create_rollout(
            name="Race",
            actor=engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
            at=NIGHT,
        )
        evaluate_rollout(rollout=rollout, at=NIGHT)
        canary = Wave.objects.get(rollout=rollout, ring__key="canary")
        approve_wave(wave=canary, user=engineer, at=NIGHT)

    # Race 1: both promote canary at the same instant.
    outcomes = _race(race_client, rollout.pk, NIGHT + timedelta(minutes=1))
    winners = [o for o in outcomes if "wave.promoted" in o]
    assert len(winners) == 1, outcomes
    with tenant_context(race_client):
        canary.refresh_from_db()
        assert canary.state == WaveState.DEPLOYING
        assert EvidenceEvent.objects.filter(kind="wave.promoted").count() == 1
        jobs = AgentJob.objects.filter(wave=canary, action="install")
        assert jobs.count() == canary.results.count()  # one job per asset, not two
        with time_machine.travel(NIGHT + timedelta(minutes=30), tick=False):
            report_jobs(canary)
        evaluate_rollout(rollout=rollout, at=NIGHT + timedelta(hours=1))
        with time_machine.travel(NIGHT + timedelta(hours=1, minutes=30), tick=False):
            fleet.verify_wave(canary)
        evaluate_rollout(rollout=rollout, at=NIGHT + timedelta(hours=2))
        canary.refresh_from_db()
        assert canary.state == WaveState.SOAKING
        pass_runbook(canary)
        pilot = Wave.objects.get(rollout=rollout, ring__key="pilot")
        approve_wave(wave=pilot, user=engineer)

    # Race 2: both see the soak end; canary passes once and pilot is entered once.
    soak_over = canary.soak_ends_at + timedelta(minutes=1)
    outcomes = _race(race_client, rollout.pk, soak_over)
    assert sum(o.count("wave.passed") for o in outcomes) == 1, outcomes
    with tenant_context(race_client):
        assert EvidenceEvent.objects.filter(kind="wave.passed").count() == 1
        assert EvidenceEvent.objects.filter(kind="wave.awaiting").count() == 2  # canary, pilot
        pilot.refresh_from_db()
        production = Wave.objects.get(rollout=rollout, ring__key="production")
        assert production.state == WaveState.PENDING  # never skipped ahead
        assert pilot.state in (WaveState.AWAITING, WaveState.DEPLOYING, WaveState.PRECHECKS)
        assert pilot.results.count() == len(set(pilot.results.values_list("asset", flat=True)))
        assert EvidenceEvent.objects.filter(kind="wave.promoted").count() <= 2
