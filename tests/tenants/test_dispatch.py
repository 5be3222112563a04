"""Per-client periodic work goes through one helper: each client is asked in its own schema."""

import pytest
from django.db import connection

from tenants.dispatch import dispatch_per_client

pytestmark = pytest.mark.django_db


class _Task:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def apply_async(self, *, kwargs: dict) -> None:
        self.sent.append((connection.schema_name, kwargs))


def test_each_client_is_asked_in_its_schema_and_only_due_ones_are_queued(
    in_tenant_a, tenant_a, tenant_b
):
    task = _Task()
    asked = []

    def select(client):
        asked.append((client.slug, connection.schema_name))
        if client.slug == "tenant-b":
            return False
        return {"client_id": client.pk}

    sent = dispatch_per_client(task, select=select)
    assert ("tenant-a", tenant_a.schema_name) in asked
    assert ("tenant-b", tenant_b.schema_name) in asked
    assert "tenant-a" in sent and "tenant-b" not in sent
    assert (tenant_a.schema_name, {"client_id": tenant_a.pk}) in task.sent
    assert all(schema != tenant_b.schema_name for schema, _ in task.sent)
    assert connection.schema_name == tenant_a.schema_name  # the caller's schema is back


def test_without_select_every_client_is_queued_with_no_arguments(tenant_a, tenant_b):
    task = _Task()
    sent = dispatch_per_client(task)
    assert {"tenant-a", "tenant-b"} <= set(sent)
    assert (tenant_b.schema_name, {}) in task.sent
