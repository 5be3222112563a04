"""The beat dispatcher and the per-client evaluation task (called directly, services unmocked)."""

from unittest import mock

import pytest
from django_tenants.utils import tenant_context

from common.locks import held_lock
from patchops.celery import app
from rings import tasks
from rings.services import assign_rings, create_rollout
from tests.producers import office

pytestmark = pytest.mark.django_db


def test_beat_schedules_the_dispatcher_every_few_minutes():
    entry = app.conf.beat_schedule["rings.dispatch_rollout_evaluation"]
    assert entry["task"] == "rings.dispatch_rollout_evaluation" and entry["schedule"] <= 600


def test_dispatcher_sends_one_task_per_client(tenant_a, tenant_b):
    with mock.patch.object(tasks.evaluate_client_rollouts, "apply_async", autospec=True) as send:
        result = tasks.dispatch_rollout_evaluation()
    assert result["clients"] == send.call_count >= 2


def test_evaluation_task_advances_rollouts_and_is_idempotent(tenant_a, personas):
    with tenant_context(tenant_a):
        office()
        assign_rings()
        create_rollout(
            name="KB",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        first = tasks.evaluate_client_rollouts()
        second = tasks.evaluate_client_rollouts()
    assert first["schema"] == tenant_a.schema_name
    assert first["rollouts"] == 1 and first["transitions"] == 1  # canary → awaiting
    assert second["transitions"] == 0


def test_evaluation_task_skips_while_another_runs(tenant_a):
    with tenant_context(tenant_a), held_lock("rings:evaluate") as held:
        assert held
        assert tasks.evaluate_client_rollouts()["skipped"] == "locked"
