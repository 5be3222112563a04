"""A tenant task goes through real Redis to a real worker and runs in its client's schema."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tenants.tasks import current_schema
from tests.celery_worker import celery_worker

pytestmark = [pytest.mark.django_db, pytest.mark.celery_worker]


@pytest.fixture
def worker_queue():
    with celery_worker() as queue:
        yield queue


def test_task_runs_in_the_schema_of_the_client_it_was_sent_for(tenant_a, tenant_b, worker_queue):
    with tenant_context(tenant_a):
        result_a = current_schema.apply_async(queue=worker_queue)
    with tenant_context(tenant_b):
        result_b = current_schema.apply_async(queue=worker_queue)
    result_public = current_schema.apply_async(queue=worker_queue)
    assert result_a.get(timeout=90) == {"schema": "c_tenant_a", "client": "tenant-a"}
    assert result_b.get(timeout=90) == {"schema": "c_tenant_b", "client": "tenant-b"}
    assert result_public.get(timeout=90)["schema"] == "public"
