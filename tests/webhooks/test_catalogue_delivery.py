"""Each catalogue event, produced by its real producer, reaches a local receiver once, signed
(the receiver checks with its own HMAC code), in the documented envelope."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from exceptions_register.services import send_due_reminders
from findings.choices import FindingState
from findings.models import Finding
from reports.models import ReportKind
from reports.services import generate_report
from rings.choices import RolloutSelection, WaveState
from rings.models import RunbookCheck
from rings.services import (
    approve_wave,
    create_rollout,
    evaluate_rollout,
    halt_rollout,
    record_runbook_check,
)
from tests.exceptions_register.factories import make_exception, sign
from tests.producers import Device, maintenance_window, push, roll_out
from tests.webhooks.conftest import deliver, make_endpoint

pytestmark = pytest.mark.django_db
KB = "KB5030001"


def _portal(client, page: str) -> str:
    from django.conf import settings

    return f"{settings.PORTAL_URL.rstrip('/')}/clients/{client.slug}/{page}"


def _envelope_of(hook, type_: str, client) -> dict:
    (event,) = hook.events(type_)
    assert event["client"] == {"slug": client.slug, "name": client.name}
    assert set(event) == {"id", "type", "created_at", "client", "url", "data"}
    return event


def _one_event(kind: str) -> EvidenceEvent:
    (event,) = EvidenceEvent.objects.filter(kind=kind)
    return event


def test_rollout_halted_reaches_the_receiver_once(hook, tenant_a, personas):
    with tenant_context(tenant_a):
        make_endpoint(hook, client=tenant_a, events=["rollout.halted", "rollout.completed"])
        push([Device(f"ws-{n:02d}").missing_kb(KB) for n in range(2)])
        halted = create_rollout(
            name="Batch",
            actor=personas.engineer,
            selection=RolloutSelection.FINDINGS,
            finding_ids=list(Finding.objects.values_list("uuid", flat=True)),
        )
        halt_rollout(rollout=halted, actor=personas.engineer, reason="Vendor pulled the update")
        halt_event = _one_event("rollout.halted")
    deliver(tenant_a)
    event = _envelope_of(hook, "rollout.halted", tenant_a)
    assert event["id"] == str(halt_event.uuid)
    assert event["data"]["rollout"] == str(halted.uuid)
    assert event["data"]["reason"] == "Vendor pulled the update"
    assert event["url"] == _portal(tenant_a, f"rollouts/{halted.uuid}/")
    assert [r.outcome for r in hook.requests] == ["processed"]
    deliver(tenant_a)  # nothing is sent twice
    assert len(hook.requests) == 1


def test_finding_verified_by_ingest_and_rollout_completed(hook, tenant_a, personas):
    with tenant_context(tenant_a):
        make_endpoint(hook, client=tenant_a, events=["finding.verified", "rollout.completed"])
        maintenance_window(start_time="00:00", duration_minutes=1440)
        device = Device("front-desk-01").missing_kb(KB)
        push(device)
        finding = Finding.objects.get(patch_identifier=KB)
        rollout = roll_out([finding], engineer=personas.engineer)
        push(device.install_kb(KB))  # the next inventory shows the fix
        finding.refresh_from_db()
        assert finding.state == FindingState.VERIFIED
        verified = _one_event("finding.verified")
        start = timezone.now()
        for weeks in range(1, 13):  # each wave soaks, then the next (empty rings are skipped)
            with time_machine.travel(start + timedelta(weeks=weeks)):
                evaluate_rollout(rollout=rollout)
                for wave in rollout.waves.filter(state=WaveState.AWAITING, approval__isnull=True):
                    approve_wave(wave=wave, user=personas.engineer)
                for wave in rollout.waves.filter(state=WaveState.SOAKING):
                    for check in RunbookCheck.objects.filter(is_active=True):
                        record_runbook_check(
                            wave=wave, check=check, passed=True, actor=personas.engineer
                        )
                evaluate_rollout(rollout=rollout)
            if EvidenceEvent.objects.filter(kind="rollout.completed").exists():
                break
        rollout.refresh_from_db()
        states = list(rollout.waves.values_list("state", flat=True))
        assert rollout.state == "completed", (rollout.state, states)
        completed = _one_event("rollout.completed")
    deliver(tenant_a)
    event = _envelope_of(hook, "finding.verified", tenant_a)
    assert event["id"] == str(verified.uuid)
    assert event["data"]["finding"] == str(finding.uuid)
    assert event["data"]["hostname"] == verified.payload["hostname"]
    assert event["data"]["patch"] == KB
    assert event["url"] == _portal(tenant_a, f"findings/{finding.uuid}/")
    event = _envelope_of(hook, "rollout.completed", tenant_a)
    assert event["id"] == str(completed.uuid)
    assert event["data"]["rollout"] == str(rollout.uuid)
    assert event["data"]["deployed"] == completed.payload["deployed"]
    assert event["data"]["verified"] == completed.payload["verified"]


def test_exception_requested_signed_and_expiring(hook, tenant_a, personas):
    with tenant_context(tenant_a):
        make_endpoint(
            hook,
            client=tenant_a,
            events=["exception.requested", "exception.signed", "exception.expiring"],
        )
        exception = make_exception(
            client=tenant_a,
            approver=personas.owner_a,
            actor=personas.engineer,
            expires_at=timezone.now() + timedelta(days=5),
        )
        sign(exception, client=tenant_a, user=personas.owner_a)
        send_due_reminders(client=tenant_a)
        send_due_reminders(client=tenant_a)  # each lead time once
        expiring = list(EvidenceEvent.objects.filter(kind="exception.expiring"))
        reminders = set(exception.reminders.values_list("days_before", flat=True))
    assert {e.payload["days_before"] for e in expiring} == reminders
    assert len(expiring) == len(reminders) > 0
    deliver(tenant_a)
    for type_ in ("exception.requested", "exception.signed"):
        event = _envelope_of(hook, type_, tenant_a)
        assert event["data"]["exception"] == str(exception.uuid)
        assert event["data"]["ticket_reference"] == exception.ticket_reference
        assert event["url"] == _portal(tenant_a, f"portal/exceptions/{exception.uuid}/")
    signed = hook.events("exception.signed")[0]["data"]
    assert "ip_address" not in signed and "user_agent" not in signed
    sent = hook.events("exception.expiring")
    assert sorted(e["data"]["days_before"] for e in sent) == sorted(reminders)
    assert {e["id"] for e in sent} == {str(e.uuid) for e in expiring}


def test_report_ready_from_report_generation(hook, tenant_a):
    with tenant_context(tenant_a):
        make_endpoint(hook, client=tenant_a, events=["report.ready"])
        period = timezone.now().astimezone(tenant_a.tz).date().replace(day=1)
        report = generate_report(client=tenant_a, kind=ReportKind.INVENTORY, period=period)
    deliver(tenant_a)
    event = _envelope_of(hook, "report.ready", tenant_a)
    assert event["data"]["report"] == str(report.uuid)
    assert event["data"]["sha256"] == report.sha256
    assert event["data"]["kind"] == ReportKind.INVENTORY
    assert "file" not in event["data"]


def test_msp_endpoint_hears_every_client_and_a_client_endpoint_only_its_own(
    hook, tenant_a, tenant_b, personas
):
    from tests.webhooks.receiver import receiver

    make_endpoint(hook, client=None, events=["exception.requested"])
    with receiver() as own:
        make_endpoint(own, client=tenant_b, events=["exception.requested"])
        made = {}
        for client, approver in ((tenant_a, personas.owner_a), (tenant_b, personas.owner_b)):
            with tenant_context(client):
                made[client.slug] = make_exception(
                    client=client, approver=approver, actor=personas.engineer
                )
            deliver(client)
        assert [e["client"]["slug"] for e in own.events()] == [tenant_b.slug]
    assert sorted(e["client"]["slug"] for e in hook.events()) == [tenant_a.slug, tenant_b.slug]
    assert {e["data"]["exception"] for e in hook.events()} == {str(e.uuid) for e in made.values()}


def test_unsubscribed_and_paused_endpoints_get_nothing(hook, tenant_a, personas):
    from webhooks.services import update_endpoint

    with tenant_context(tenant_a):
        endpoint = make_endpoint(hook, client=tenant_a, events=["report.ready"])
        make_exception(client=tenant_a, approver=personas.owner_a, actor=personas.engineer)
        update_endpoint(endpoint=endpoint, data={"events": ["exception.requested"],
                                                 "is_active": False})  # fmt: skip
        make_exception(client=tenant_a, approver=personas.owner_a, actor=personas.engineer,
                       ticket_reference="PSA-1002")  # fmt: skip
    deliver(tenant_a)
    assert hook.requests == []


def test_finding_overdue_from_the_sla_watch(hook, tenant_a):
    from findings.tasks import sla_watch

    with tenant_context(tenant_a):
        make_endpoint(hook, client=tenant_a, events=["finding.overdue"])
        push(Device("srv-01", os="windows_server").missing_kb(KB, severity="critical"))
        finding = Finding.objects.get(patch_identifier=KB)
        with time_machine.travel(finding.due_at + timedelta(minutes=1), tick=False):
            sla_watch.apply().get()
            sla_watch.apply().get()  # announced once
        overdue = _one_event("finding.overdue")
    deliver(tenant_a)
    event = _envelope_of(hook, "finding.overdue", tenant_a)
    assert event["id"] == str(overdue.uuid)
    assert event["data"]["finding"] == str(finding.uuid)
    assert event["data"]["due_at"] == finding.due_at.isoformat()
    assert event["data"]["hostname"] == "srv-01"
    assert event["url"] == _portal(tenant_a, f"findings/{finding.uuid}/")
