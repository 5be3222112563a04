import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import DiscoverySchedule
from inventory.services import update_discovery_schedule
from tenants.services import create_client

pytestmark = pytest.mark.django_db


def _event() -> EvidenceEvent:
    """One event from its producer (the discovery hour changed by the scheduler)."""
    update_discovery_schedule(schedule=DiscoverySchedule.current(), actor=None, local_hour=5)
    return EvidenceEvent.objects.order_by("-sequence").first()


def _refused(sql: str, params=()) -> str:
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(exc.value)


def test_update_delete_truncate_are_refused_by_the_database(in_tenant_a):
    event = _event()
    table = "evidence_evidenceevent"
    assert "UPDATE" in _refused(f"UPDATE {table} SET kind = 'x' WHERE id = %s", [event.pk])
    assert "DELETE" in _refused(f"DELETE FROM {table} WHERE id = %s", [event.pk])
    assert "TRUNCATE" in _refused(f"TRUNCATE {table}")
    with pytest.raises(IntegrityError), transaction.atomic():
        EvidenceEvent.objects.filter(pk=event.pk).update(actor="someone else")
    with pytest.raises(IntegrityError), transaction.atomic():
        event.delete()
    event.refresh_from_db()
    assert event.kind == "discovery.schedule_changed" and event.actor == "system"


def test_a_new_client_cloned_from_the_template_carries_the_guard(db):
    client = create_client(slug="guard-check", name="Guard Check", timezone_name="Pacific/Auckland")
    with tenant_context(client):
        event = _event()
        assert "refused" in _refused(
            "UPDATE evidence_evidenceevent SET payload = '{}' WHERE id = %s", [event.pk]
        )
        assert "refused" in _refused("DELETE FROM evidence_evidenceevent")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND NOT t.tgisinternal AND c.relname LIKE 'evidence_%%'",
                [client.schema_name],
            )
            assert cursor.fetchone()[0] == 4
