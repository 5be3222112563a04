import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from evidence.models import EvidenceEvent
from evidence.selectors import verify_chain
from inventory.models import DiscoverySchedule
from inventory.services import update_discovery_schedule

pytestmark = pytest.mark.django_db


def _seed(n: int = 5) -> list[EvidenceEvent]:
    """``n`` events from a real producer: the discovery hour changed ``n`` times."""
    schedule = DiscoverySchedule.current()
    for i in range(n):
        update_discovery_schedule(schedule=schedule, actor="admin@msp.test", local_hour=i + 3)
    return list(EvidenceEvent.objects.order_by("sequence"))


def _bypass(sql: str, params=()) -> None:
    """Tamper as a superuser would: with triggers switched off for this transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_intact_chain_exits_zero_with_a_summary(in_tenant_a, capsys):
    events = _seed(5)
    call_command("verify_evidence", "tenant-a", "--batch-size", "2")
    assert capsys.readouterr().out.strip() == f"tenant-a: 5 events, head {events[-1].hash}"


def test_empty_chain_verifies(in_tenant_a, capsys):
    call_command("verify_evidence", "tenant-a")
    assert "0 events" in capsys.readouterr().out


def test_tampered_payload_fails_at_exactly_that_event(in_tenant_a):
    events = _seed(6)
    _bypass(
        'UPDATE evidence_evidenceevent SET payload = \'{"after": {"local_hour": 23}}\' '
        "WHERE sequence = 3"
    )
    with pytest.raises(CommandError) as exc:
        call_command("verify_evidence", "tenant-a", "--batch-size", "2")
    message = str(exc.value)
    assert f"#3 ({events[2].uuid})" in message and "does not match its hash" in message
    assert exc.value.returncode != 0
    status = verify_chain()
    assert not status.ok and status.broken.sequence == 3 and status.count == 2


def test_deleted_event_is_reported_as_a_gap_at_the_next_one(in_tenant_a):
    events = _seed(4)
    _bypass("DELETE FROM evidence_evidenceevent WHERE sequence = 2")
    status = verify_chain(batch_size=1)
    assert status.broken.sequence == 3 and status.broken.uuid == str(events[2].uuid)
    assert "gap" in status.broken.problem


def test_rewritten_hash_breaks_the_link_of_the_next_event(in_tenant_a):
    events = _seed(4)
    tampered = events[1]
    tampered.actor = "mallory"
    _bypass(
        "UPDATE evidence_evidenceevent SET actor = 'mallory', hash = %s WHERE sequence = 2",
        [tampered.compute_hash()],
    )
    status = verify_chain()
    assert status.broken.sequence == 3 and "prev_hash" in status.broken.problem


def test_unknown_client_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No client with the slug “nope”"):
        call_command("verify_evidence", "nope")


def test_events_recorded_with_a_local_time_still_verify_after_a_round_trip(in_tenant_a):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime(2026, 10, 31, 23, 30, tzinfo=ZoneInfo("America/Chicago"))
    with time_machine.travel(local, tick=False):
        event = _seed(1)[0]
    stored = EvidenceEvent.objects.get(pk=event.pk)
    assert stored.occurred_at == local and stored.compute_hash() == stored.hash
    assert verify_chain().ok
