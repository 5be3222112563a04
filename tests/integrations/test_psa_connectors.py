"""Two-way PSA tickets against local ConnectWise Manage, Autotask and HaloPSA servers: a breach
of a real rollout opens a ticket (its PSA id kept from the answer), an exception request opens
and notes one, the rollout's recovery closes it with the evidence link, the PSA's signed status
changes come back (a bad signature changes nothing), a PSA that fails twice holds one ticket,
one that never answers leaves a dead call on the PSA page whose retry button sends it again, and
the tickets the PSA reports count in the after-hours figure once."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from integrations import psa
from integrations.choices import DeliveryState
from integrations.models import OutboxMessage, PsaConnection, PsaTicket
from integrations.services import is_after_hours
from rings.choices import RolloutSelection, WaveState
from rings.models import Wave
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from rings.services.recovery import resume_rollout
from tests.exceptions_register.factories import make_exception
from tests.integrations import psa_servers as ps
from tests.integrations.outbox_helpers import deliver_outbox
from tests.producers import maintenance_window, office
from tests.rings.helpers import report_jobs

pytestmark = pytest.mark.django_db

KINDS = ["connectwise", "autotask", "halopsa"]
# Tuesday 2026-06-02 22:30 in Chicago (CDT): inside the nightly window, after business hours.
NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)
CW_REAL = json.loads(ps.REALDATA.read_text())

SETTINGS = {
    "connectwise": {
        "login_company": ps.CW_COMPANY,
        "api_user": ps.CW_PUBLIC,
        "api_secret": ps.CW_PRIVATE,
        "app_id": ps.CW_CLIENT_ID,
        "company_ref": str(CW_REAL[0]["company"]["id"]),
        "board_ref": str(CW_REAL[0]["board"]["id"]),
        "closed_status_ref": str(CW_REAL[0]["status"]["id"]),
        "status_map": {str(CW_REAL[0]["status"]["id"]): "closed", "1": "open", "7": "in_progress"},
        "webhook_secret": "cw-signing-key",
    },
    "autotask": {
        "api_user": ps.AT_USER,
        "api_secret": ps.AT_SECRET,
        "app_id": ps.AT_CODE,
        "company_ref": "29683555",
        "board_ref": "8",
        "closed_status_ref": "5",
        "status_map": {"1": "open", "8": "in_progress", "5": "closed"},
        "webhook_secret": "at-webhook-key",
    },
    "halopsa": {
        "api_user": ps.HALO_CLIENT,
        "api_secret": ps.HALO_SECRET,
        "company_ref": "12",
        "board_ref": "3",
        "closed_status_ref": "9",
        "status_map": {"1": "open", "2": "in_progress", "9": "closed"},
        "webhook_username": "halo-hook",
        "webhook_secret": "halo-hook-pass",
    },
}
PRIORITIES = {"critical": "1", "high": "2", "medium": "3", "low": "4"}


def connect(kind: str, server: ps.PsaServer, actor, **extra) -> PsaConnection:
    data = {
        "name": f"{kind} of the MSP",
        "kind": kind,
        "base_url": server.url,
        "priority_map": PRIORITIES,
        **SETTINGS[kind],
        **extra,
    }
    return psa.save_connection(data=data, actor=actor)


def deliver_all(client) -> list[dict]:
    """Attempts until nothing is due (a retry's backoff is skipped: its time has come)."""
    outcomes: list[dict] = []
    for _ in range(10):
        with tenant_context(client):
            OutboxMessage.objects.filter(state=DeliveryState.FAILED_RETRYING).update(
                next_attempt_at=None
            )
        batch = deliver_outbox(client)
        outcomes += batch
        if not any("retry" in o or o.get("state") == DeliveryState.DELIVERED for o in batch):
            break
    return outcomes


def breach(personas) -> tuple:
    """A real rollout whose canary breaches its failure threshold (rings open the ticket)."""
    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
        office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="June KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
    wave = Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring__key="canary")
    approve_wave(wave=wave, user=personas.engineer)
    with time_machine.travel(NIGHT, tick=False):
        evaluate_rollout(rollout=rollout)
    wave.refresh_from_db()
    assert wave.state == WaveState.DEPLOYING
    with time_machine.travel(NIGHT + timedelta(minutes=20), tick=False):
        report_jobs(wave, fail=1)
        assert evaluate_rollout(rollout=rollout) == ["wave.halted"]
    return rollout, PsaTicket.objects.get(related__rollout=str(rollout.uuid))


def portal_page(rollout) -> str:
    return f"{settings.PORTAL_URL.rstrip('/')}/clients/tenant-a/rollouts/{rollout.uuid}/"


def created_body(server: ps.PsaServer, ticket_id: int) -> dict:
    return server.tickets[int(ticket_id)]


@pytest.mark.parametrize("kind", KINDS)
def test_breach_opens_a_ticket_and_the_recovery_closes_it(kind, tenant_a, personas):
    with ps.psa_server(kind) as server:
        with tenant_context(tenant_a):
            connect(kind, server, personas.engineer)
            rollout, ticket = breach(personas)
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            mine = server.own_tickets()
            assert len(mine) == 1 and ticket.status == "sent"
            assert ticket.external_id == str(mine[0]["id"])
            created = created_body(server, ticket.external_id)
            if kind == "connectwise":
                assert created["summary"] == ticket.summary[:100]
                assert str(created["priority"]["id"]) == PRIORITIES[ticket.priority]
                assert str(created["board"]["id"]) == SETTINGS[kind]["board_ref"]
            elif kind == "autotask":
                assert created["title"] == ticket.summary
                assert str(created["priority"]) == PRIORITIES[ticket.priority]
                assert str(created["queueID"]) == SETTINGS[kind]["board_ref"]
            else:
                assert created["summary"] == ticket.summary
                assert str(created["priority_id"]) == PRIORITIES[ticket.priority]
                assert str(created["client_id"]) == SETTINGS[kind]["company_ref"]
            assert EvidenceEvent.objects.filter(
                kind="ticket.sent", subject_id=str(ticket.uuid)
            ).exists()

            resume_rollout(rollout=rollout, user=personas.engineer, reason="Bad host reimaged")
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            notes = server.note_texts(ticket.external_id)
            assert len(notes) == 1 and portal_page(rollout) in notes[0]
            assert server.status_of(ticket.external_id) == SETTINGS[kind]["closed_status_ref"]
            assert ticket.is_closed and ticket.closed_at is not None
            closed = EvidenceEvent.objects.get(kind="ticket.closed", subject_id=str(ticket.uuid))
            assert closed.payload["evidence"] == portal_page(rollout)
            # The PSA heard of the ticket in order: created, noted, closed.
            events = list(
                OutboxMessage.objects.filter(psa_ticket=ticket)
                .order_by("pk")
                .values_list("event", "state")
            )
            assert events == [
                ("ticket.create", "delivered"),
                ("ticket.note", "delivered"),
                ("ticket.close", "delivered"),
            ]


@pytest.mark.parametrize("kind", KINDS)
def test_exception_request_opens_a_ticket_that_its_submission_updates(kind, tenant_a, personas):
    with ps.psa_server(kind) as server:
        with tenant_context(tenant_a):
            connect(kind, server, personas.engineer)
            exception = make_exception(client=tenant_a, approver=personas.owner_a)
            ticket = PsaTicket.objects.get(subject_type="exception", subject_id=str(exception.uuid))
            assert exception.ticket_reference in ticket.summary
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            assert ticket.external_id and len(server.own_tickets()) == 1
            notes = server.note_texts(ticket.external_id)
            assert len(notes) == 1 and "submitted for sign-off" in notes[0]
            writes = [c.path for c in server.writes()]
            assert len(writes) == 2  # the creation, then the note


@pytest.mark.parametrize("kind", KINDS)
def test_status_changes_come_back_signed(kind, tenant_a, personas, http):
    with ps.psa_server(kind) as server:
        with tenant_context(tenant_a):
            conn = connect(kind, server, personas.engineer)
            make_exception(client=tenant_a, approver=personas.owner_a, submit=False)
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            ticket = PsaTicket.objects.get(subject_type="exception")
        url = f"/clients/tenant-a/api/v1/psa-connections/{conn.uuid}/inbound/"
        remote = copy.deepcopy(server.tickets[int(ticket.external_id)])
        in_progress = next(k for k, v in SETTINGS[kind]["status_map"].items() if v == "in_progress")
        secret = SETTINGS[kind]["webhook_secret"]

        def signed(status: str, key: str) -> tuple[bytes, dict]:
            if kind == "connectwise":
                remote["status"] = {"id": int(status), "name": "In Progress"}
                return ps.connectwise_callback(remote, key)
            if kind == "autotask":
                return ps.autotask_webhook(remote["id"], int(status), key)
            remote["status_id"] = int(status)
            return ps.halo_webhook(remote, SETTINGS[kind]["webhook_username"], key)

        def events() -> int:
            with tenant_context(tenant_a):
                return EvidenceEvent.objects.filter(subject_id=str(ticket.uuid)).count()

        before = events()
        body, headers = signed(in_progress, "not-the-key")
        answer = http.post(url, body, content_type="application/json", **headers)
        assert answer.status_code == 403 and events() == before
        answer = http.post(url, body, content_type="application/json")
        assert answer.status_code == 401 and events() == before
        odd = {
            "HTTP_X_CONTENT_SIGNATURE": "é",
            "HTTP_X_HOOK_SIGNATURE": "sha1=é",
            "HTTP_AUTHORIZATION": "Basic é",
        }
        answer = http.post(url, body, content_type="application/json", **odd)
        assert answer.status_code == 403 and events() == before
        garbage = b"{not json"
        if kind == "halopsa":
            _, headers = signed(in_progress, secret)
        elif kind == "connectwise":
            headers = ps.connectwise_callback(remote, secret)[1]
            headers["HTTP_X_CONTENT_SIGNATURE"] = psa_signature_cw(garbage, secret)
        else:
            headers = {"HTTP_X_HOOK_SIGNATURE": psa_signature_at(garbage, secret)}
        answer = http.post(url, garbage, content_type="application/json", **headers)
        assert answer.status_code == 400 and events() == before

        body, headers = signed(in_progress, secret)
        answer = http.post(url, body, content_type="application/json", **headers)
        assert answer.status_code == 200, answer.content
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            assert ticket.meaning == "in_progress"
            change = EvidenceEvent.objects.get(kind="ticket.status_changed")
            assert change.payload["via"] == "webhook" and change.payload["meaning"] == "in_progress"

        closed = SETTINGS[kind]["closed_status_ref"]
        body, headers = signed(closed, secret)
        assert http.post(url, body, content_type="application/json", **headers).status_code == 200
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            assert ticket.is_closed
            assert EvidenceEvent.objects.filter(
                kind="ticket.closed_in_psa", subject_id=str(ticket.uuid)
            ).exists()


def psa_signature_cw(body: bytes, key: str) -> str:
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def psa_signature_at(body: bytes, key: str) -> str:
    import base64
    import hashlib
    import hmac

    return "sha1=" + base64.b64encode(hmac.new(key.encode(), body, hashlib.sha1).digest()).decode()


@pytest.mark.parametrize("kind", KINDS)
def test_a_psa_failing_twice_holds_one_ticket(kind, tenant_a, personas):
    with ps.psa_server(kind) as server:
        server.statuses = [503, 503]
        with tenant_context(tenant_a):
            connect(kind, server, personas.engineer)
            make_exception(client=tenant_a, approver=personas.owner_a)
            ticket = PsaTicket.objects.get(subject_type="exception")
        first = deliver_outbox(tenant_a)
        with tenant_context(tenant_a):
            create = OutboxMessage.objects.get(psa_ticket=ticket, event="ticket.create")
            note = OutboxMessage.objects.get(psa_ticket=ticket, event="ticket.note")
            assert create.state == DeliveryState.FAILED_RETRYING
            # The note waits for the ticket's creation and spends no attempt meanwhile.
            assert {"message": note.pk, "skipped": "waiting"} in first
            note.refresh_from_db()
            assert note.attempts == 0 and note.state == DeliveryState.PENDING
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            create.refresh_from_db()
            ticket.refresh_from_db()
            assert create.state == DeliveryState.DELIVERED and create.attempts == 3
            assert len(server.own_tickets()) == 1
            assert ticket.external_id == str(server.own_tickets()[0]["id"])
            assert len(server.note_texts(ticket.external_id)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_psa_that_never_answers_leaves_a_dead_call_to_retry(kind, tenant_a, personas, login):
    with ps.psa_server(kind) as server:
        server.always = 500
        with tenant_context(tenant_a):
            connect(kind, server, personas.engineer, max_attempts=2)
            make_exception(client=tenant_a, approver=personas.owner_a, submit=False)
            ticket = PsaTicket.objects.get(subject_type="exception")
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            create = OutboxMessage.objects.get(psa_ticket=ticket, event="ticket.create")
            ticket.refresh_from_db()
            assert create.state == DeliveryState.DEAD and ticket.status == "failed"
        engineer = login(personas.engineer)
        page = engineer.get("/clients/tenant-a/integrations/psa/")
        assert page.status_code == 200
        html = page.content.decode()
        assert f'data-testid="dead-{create.uuid}"' in html
        assert f'data-testid="psa-retry-{create.uuid}"' in html
        outbox_page = engineer.get("/clients/tenant-a/integrations/outbox/").content.decode()
        assert 'data-testid="psa-ticket-link"' in outbox_page

        server.always = None
        answer = engineer.post(f"/clients/tenant-a/integrations/psa/messages/{create.uuid}/retry/")
        assert answer.status_code == 302
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            create.refresh_from_db()
            ticket.refresh_from_db()
            assert create.state == DeliveryState.DELIVERED and ticket.status == "sent"
            assert ticket.external_id == str(server.own_tickets()[0]["id"])
            assert EvidenceEvent.objects.filter(kind="delivery.retried").exists()
        page = engineer.get("/clients/tenant-a/integrations/psa/").content.decode()
        assert f'data-testid="dead-{create.uuid}"' not in page
        assert ticket.external_id in page
        assert (
            login(personas.viewer_a).get("/clients/tenant-a/integrations/psa/").status_code == 403
        )


def _night_ticket(kind: str, server: ps.PsaServer, ticket_id: int, at: datetime) -> None:
    """A ticket a technician opened in the PSA for the client's company and board."""
    s = SETTINGS[kind]
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "connectwise":
        row = copy.deepcopy(CW_REAL[0])
        row.update(id=ticket_id, summary="Server down after patching", closedFlag=False)
        row["status"] = {"id": 1, "name": "New"}
        row["_info"] = {**row["_info"], "dateEntered": stamp}
    elif kind == "autotask":
        row = {
            "id": ticket_id,
            "title": "Server down after patching",
            "companyID": int(s["company_ref"]),
            "queueID": int(s["board_ref"]),
            "status": 1,
            "createDate": stamp,
        }
    else:
        row = {
            "id": ticket_id,
            "summary": "Server down after patching",
            "client_id": int(s["company_ref"]),
            "team_id": int(s["board_ref"]),
            "status_id": 1,
            "dateoccurred": stamp,
        }
    server.tickets[ticket_id] = row


def _remote_created(kind: str, row: dict) -> datetime:
    raw = row["_info"]["dateEntered"] if kind == "connectwise" else row.get("createDate")
    raw = raw or row.get("dateoccurred")
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.mark.parametrize("kind", KINDS)
def test_polled_psa_tickets_count_after_hours_once(kind, tenant_a, personas):
    from compliance.engine import after_hours_tickets

    with ps.psa_server(kind) as server:
        with tenant_context(tenant_a):
            conn = connect(kind, server, personas.engineer)
            _, ticket = breach(personas)  # PatchOps' own, after hours
        deliver_all(tenant_a)
        _night_ticket(kind, server, 4001, NIGHT + timedelta(hours=1))
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            # The PSA closes PatchOps' ticket; the poll brings that back too.
            own = server.tickets[int(ticket.external_id)]
            closed = SETTINGS[kind]["closed_status_ref"]
            if kind == "connectwise":
                own["status"] = {"id": int(closed), "name": ">Closed"}
            elif kind == "autotask":
                own["status"] = int(closed)
            else:
                own["status_id"] = int(closed)
            psa.poll()
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            conn.refresh_from_db()
            ticket.refresh_from_db()
            assert conn.last_polled_at is not None and ticket.is_closed
            start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
            company, board = SETTINGS[kind]["company_ref"], SETTINGS[kind]["board_ref"]

            def ours(row: dict) -> bool:
                if kind == "connectwise":
                    return str(row["company"]["id"]) == company and str(row["board"]["id"]) == board
                key = "companyID" if kind == "autotask" else "client_id"
                queue = "queueID" if kind == "autotask" else "team_id"
                return str(row.get(key)) == company and str(row.get(queue)) == board

            reported = [
                r for i, r in server.tickets.items() if ours(r) and str(i) != ticket.external_id
            ]
            expected = sum(is_after_hours(_remote_created(kind, r), tenant_a) for r in reported)
            expected += ticket.is_after_hours
            assert expected >= 2  # the night ticket and PatchOps' own
            assert after_hours_tickets(tenant_a, start, end) == expected
            assert PsaTicket.objects.filter(external_id=ticket.external_id).count() == 1
            psa.poll(at=NIGHT + timedelta(days=1))  # a second poll adds nothing
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            assert after_hours_tickets(tenant_a, start, end) == expected


DETECTED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", KINDS)
def test_overdue_critical_finding_opens_a_ticket_its_verification_closes(kind, tenant_a, personas):
    from findings.models import Finding
    from findings.tasks import sla_watch
    from tests.producers import Device, push

    with ps.psa_server(kind) as server:
        with tenant_context(tenant_a):
            connect(kind, server, personas.engineer, overdue_min_severity="critical")
            device = Device("srv-01", os="windows_server").missing_kb(
                "KB5000001", severity="critical"
            )
            minor = Device("srv-02", os="windows_server").missing_kb("KB5000002", severity="high")
            with time_machine.travel(DETECTED, tick=False):
                push([device, minor])
            finding = Finding.objects.get(patch_identifier="KB5000001")
            with time_machine.travel(finding.due_at + timedelta(minutes=1), tick=False):
                sla_watch.apply().get()
            late = Finding.objects.get(patch_identifier="KB5000002")
            with time_machine.travel(late.due_at + timedelta(minutes=1), tick=False):
                sla_watch.apply().get()
            assert EvidenceEvent.objects.filter(kind="finding.overdue").count() == 2
            # Only the critical one reaches the connection's minimum severity.
            ticket = PsaTicket.objects.get(subject_type="finding")
            assert ticket.subject_id == str(finding.uuid) and ticket.priority == "critical"
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            assert len(server.own_tickets()) == 1 and ticket.external_id
            with time_machine.travel(finding.due_at + timedelta(hours=2), tick=False):
                push(device.install_kb("KB5000001"))
            assert EvidenceEvent.objects.filter(
                kind="finding.verified", subject_id=str(finding.uuid)
            ).exists()
        deliver_all(tenant_a)
        with tenant_context(tenant_a):
            ticket.refresh_from_db()
            page = f"{settings.PORTAL_URL.rstrip('/')}/clients/tenant-a/findings/{finding.uuid}/"
            notes = server.note_texts(ticket.external_id)
            assert len(notes) == 1 and page in notes[0]
            assert server.status_of(ticket.external_id) == SETTINGS[kind]["closed_status_ref"]
            assert ticket.is_closed
