"""Restore tests through the client API: a write token schedules and records restore tests of
critical systems (the same services, checks and evidence events as the Restore tests page), a
read token lists them with filters and ``?updated_since=``, an MSP admin sets the rule the
waves wait for. Devices report through ingest (``office()``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client as HttpClient

from evidence.models import EvidenceEvent
from inventory.models import Asset
from rings.models import RestoreTest, RestoreTestRule
from rings.services import lacking_restore_test
from tenants.choices import TokenScope
from tests.mfa import sign_in
from tests.producers import office

pytestmark = pytest.mark.django_db

BASE = "/clients/tenant-a/api/v1/"
TESTS = BASE + "restore-tests/"
RULE = BASE + "restore-test-rule/"
MONDAY = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def _bearer(make_token, scope: str, tenant) -> HttpClient:
    _, plaintext = make_token(scope, tenant, name=f"restore-{scope}")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def _post(http: HttpClient, url: str, body: dict):
    return http.post(url, json.dumps(body), content_type="application/json")


def test_schedule_record_list_and_rule_through_the_api(in_tenant_a, tenant_a, make_token, personas):
    writer = _bearer(make_token, TokenScope.WRITE, tenant_a)
    reader = _bearer(make_token, TokenScope.READ, tenant_a)
    with time_machine.travel(MONDAY, tick=False):
        office()
        fs = Asset.objects.select_related("asset_class").get(hostname="fs-01")
        lnx = Asset.objects.get(hostname="lnx-01")
        assert fs.asset_class.is_critical and lnx.asset_class.is_critical

        # A read token may not schedule.
        body = {"asset": str(fs.uuid), "scheduled_for": "2026-03-01", "what": "File share VM"}
        assert _post(reader, TESTS, body).status_code == 403
        created = _post(writer, TESTS, body)
        assert created.status_code == 201, created.content
        row = created.json()
        assert row["asset"] == str(fs.uuid) and row["hostname"] == "fs-01"
        assert row["outcome"] == "scheduled" and row["performed_at"] is None
        # Scheduled for yesterday (local), not recorded: overdue.
        assert row["is_overdue"] is True
        other = _post(
            writer,
            TESTS,
            {"asset": str(lnx.uuid), "scheduled_for": "2026-03-09", "what": "Database dump"},
        )
        assert other.status_code == 201 and other.json()["is_overdue"] is False
        scheduled = EvidenceEvent.objects.filter(kind="restore_test.scheduled")
        assert sorted(e.payload["hostname"] for e in scheduled) == ["fs-01", "lnx-01"]

    recorded_at = MONDAY + timedelta(hours=2)
    with time_machine.travel(recorded_at, tick=False):
        done = MONDAY - timedelta(hours=1)
        url = f"{TESTS}{row['id']}/record/"
        record = {
            "outcome": "passed",
            "performed_at": done.isoformat(),
            "performed_by": "Dana Reyes",
            "evidence_url": "https://ev.test/fs-01",
            "note": "Opened the restored share.",
        }
        assert _post(reader, url, record).status_code == 403
        answer = _post(writer, url, record)
        assert answer.status_code == 200, answer.content
        assert answer.json()["outcome"] == "passed"
        assert answer.json()["performed_at"] == done.isoformat().replace("+00:00", "Z")
        assert answer.json()["evidence_url"] == "https://ev.test/fs-01"
        # Recorded once.
        again = _post(writer, url, {**record, "outcome": "failed"})
        assert again.status_code == 400 and "already recorded" in again.content.decode()
        event = EvidenceEvent.objects.get(kind="restore_test.recorded")
        assert event.subject_id == row["id"]
        assert event.payload["outcome"] == "passed"
        assert event.payload["performed_by"] == "Dana Reyes"
        test = RestoreTest.objects.get(uuid=row["id"])
        assert test.recorded_by == event.actor and event.actor

    # The list: filters, detail, incremental sync.
    listed = reader.get(TESTS).json()
    assert listed["count"] == 2
    assert [r["hostname"] for r in listed["results"]] == ["lnx-01", "fs-01"]
    assert [r["hostname"] for r in reader.get(TESTS, {"outcome": "passed"}).json()["results"]] == [
        "fs-01"
    ]
    assert reader.get(TESTS, {"asset": str(lnx.uuid)}).json()["count"] == 1
    since = reader.get(TESTS, {"updated_since": recorded_at.isoformat()}).json()
    assert [r["id"] for r in since["results"]] == [row["id"]]
    assert reader.get(f"{TESTS}{row['id']}/").json()["note"] == "Opened the restored share."
    assert reader.get(TESTS, {"brief": "true"}).json()["results"][0].keys() == {
        "id",
        "asset",
        "hostname",
        "scheduled_for",
        "outcome",
    }

    # The rule: read by anyone who sees the client, changed by an MSP admin only.
    rule = reader.get(RULE).json()
    assert rule["max_age_days"] == RestoreTestRule().max_age_days and rule["gate_waves"] is False
    change = {"max_age_days": 30, "gate_waves": True}
    assert writer.put(RULE, json.dumps(change), content_type="application/json").status_code == 403
    assert not RestoreTestRule.objects.exists()
    admin = HttpClient()
    sign_in(admin, personas.msp_admin)
    with time_machine.travel(recorded_at, tick=False):
        saved = admin.put(RULE, json.dumps(change), content_type="application/json")
        assert saved.status_code == 200, saved.content
        assert saved.json()["max_age_days"] == 30 and saved.json()["gate_waves"] is True
        assert saved.json()["updated_by"] == personas.msp_admin.email
        assert EvidenceEvent.objects.get(kind="restore_test.rule_changed").payload == change
        # The waves' check reads the same rule: fs-01 passed an hour before Monday's 10:00,
        # lnx-01 has none.
        critical = list(Asset.objects.filter(hostname__in=["fs-01", "lnx-01"]))
        assert [a.hostname for a in lacking_restore_test(critical, recorded_at)] == ["lnx-01"]
    with time_machine.travel(done + timedelta(days=30, minutes=1), tick=False):
        assert {a.hostname for a in lacking_restore_test(critical, datetime.now(UTC))} == {
            "fs-01",
            "lnx-01",
        }


def test_bad_restore_test_input_answers_400_and_changes_nothing(in_tenant_a, tenant_a, make_token):
    writer = _bearer(make_token, TokenScope.WRITE, tenant_a)
    office()
    fs = Asset.objects.get(hostname="fs-01")
    ws = Asset.objects.get(hostname="ws-01")
    before = EvidenceEvent.objects.count()
    good = {"asset": str(fs.uuid), "scheduled_for": date.today().isoformat(), "what": "VM"}
    for bad, field in (
        ({**good, "asset": str(ws.uuid)}, "asset"),  # not a critical system
        ({**good, "asset": "00000000-0000-4000-8000-000000000000"}, "asset"),
        ({**good, "asset": "fs-01"}, "asset"),
        ({**good, "what": ""}, "what"),
        ({**good, "what": "x" * 100_000}, "what"),
        ({**good, "scheduled_for": "2026-13-45"}, "scheduled_for"),
        ({k: v for k, v in good.items() if k != "scheduled_for"}, "scheduled_for"),
    ):
        response = _post(writer, TESTS, bad)
        assert response.status_code == 400, (bad, response.content)
        assert field in response.json(), (bad, response.json())
    assert not RestoreTest.objects.exists()
    test = _post(writer, TESTS, good).json()
    url = f"{TESTS}{test['id']}/record/"
    now = datetime.now(UTC)
    record = {
        "outcome": "passed",
        "performed_at": now.isoformat(),
        "performed_by": "Dana",
        "evidence_url": "https://e.test/",
    }
    for bad, field in (
        ({**record, "outcome": "maybe"}, "outcome"),
        ({**record, "outcome": "scheduled"}, "outcome"),
        ({**record, "performed_at": (now + timedelta(days=2)).isoformat()}, "performed_at"),
        ({**record, "performed_at": "yesterday"}, "performed_at"),
        ({**record, "evidence_url": "not a link"}, "evidence_url"),
        ({**record, "evidence_url": "ftp://e.test/x"}, "evidence_url"),
        ({**record, "performed_by": ""}, "performed_by"),
    ):
        response = _post(writer, url, bad)
        assert response.status_code == 400, (bad, response.content)
        assert field in response.json(), (bad, response.json())
    stored = RestoreTest.objects.get(uuid=test["id"])
    assert stored.outcome == "scheduled" and stored.performed_at is None
    assert EvidenceEvent.objects.count() == before + 1  # the one schedule
    missing = f"{TESTS}00000000-0000-4000-8000-000000000000/record/"
    assert _post(writer, missing, record).status_code == 404
    for bad in ({"max_age_days": 0, "gate_waves": True}, {"max_age_days": 731}, {}):
        admin_answer = _post(writer, RULE, bad)
        assert admin_answer.status_code in (403, 405)
    assert not RestoreTestRule.objects.exists()


def test_restore_test_rule_refuses_bad_days(tenant_a, personas):
    admin = HttpClient()
    sign_in(admin, personas.msp_admin)
    for bad in (
        {"max_age_days": 0, "gate_waves": True},
        {"max_age_days": 731, "gate_waves": True},
        {"max_age_days": "x", "gate_waves": True},
        {"gate_waves": True},
        {"max_age_days": 30},
    ):
        response = admin.put(RULE, json.dumps(bad), content_type="application/json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()
    from django_tenants.utils import tenant_context

    with tenant_context(tenant_a):
        assert not RestoreTestRule.objects.exists()
        assert not EvidenceEvent.objects.filter(kind="restore_test.rule_changed").exists()
