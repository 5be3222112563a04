"""The audit log's pages, CSV exports and API, fed by real actions: people signing in and out
through the sign-in form, failing to, and exporting the log itself.

A client's log (/clients/<slug>/audit-log/) shows that client's rows to MSP admins and the
client's owners only; the MSP-wide log (/audit-log/) shows every row to MSP admins only.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as HttpClient

from accounts.models import AuditEvent
from accounts.second_factor import needs_second_factor
from tenants.choices import TokenScope
from tenants.models import User
from tests.conftest import PASSWORD
from tests.mfa import enrol, fresh_code

pytestmark = pytest.mark.django_db

A_LOG = "/clients/tenant-a/audit-log/"
B_LOG = "/clients/tenant-b/audit-log/"
MSP_LOG = "/audit-log/"


def sign_in(email: str, password: str = PASSWORD, *, ip: str = "198.51.100.7") -> HttpClient:
    """Through the real sign-in form, as a browser would, then (for those who need one) the
    second step with a code of the authenticator app."""
    http = HttpClient(REMOTE_ADDR=ip, HTTP_USER_AGENT="Test browser/1.0")
    response = http.post("/accounts/login/", {"username": email, "password": password})
    assert response.status_code == (302 if password == PASSWORD else 200), response.status_code
    user = User.objects.filter(email=email).first()
    if password == PASSWORD and needs_second_factor(user):
        asked = http.get(response["Location"])  # the next page asks for the second step
        assert asked["Location"].startswith("/accounts/mfa/verify/"), asked["Location"]
        verified = http.post("/accounts/mfa/verify/", {"code": fresh_code(user)})
        assert verified.status_code == 302, verified.status_code
    return http


def rows_of(page) -> list[tuple[str, str]]:
    """(kind, actor) of each row of an audit-log page, in order."""
    body = page.content.decode()
    return re.findall(
        r'data-kind="([^"]+)">\s*<td[^>]*>[^<]*</td>\s*<td>.*?</td>\s*<td>([^<]*)</td>', body, re.S
    )


PAST = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0) - timedelta(days=4)


@pytest.fixture(autouse=True)
def _authenticators(personas) -> None:
    """Those who need a second factor added their authenticator apps before the history the
    tests read (an hour before it begins); the log the tests read starts after that."""
    with time_machine.travel(PAST - timedelta(hours=1), tick=False):
        for user in User.objects.order_by("pk"):
            if needs_second_factor(user):
                enrol(user)
    AuditEvent.objects.filter(kind__startswith="mfa.").delete()


def chicago_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("America/Chicago")).date().isoformat()


@pytest.fixture
def history(personas) -> dict[str, HttpClient]:
    """Four days ago A's owner signed in and somebody failed as A's viewer; now B's owner signs
    in, out and in again, somebody fails with an unknown address, staff sign in, then A's
    viewer and owner. Returns the sessions kept."""
    with time_machine.travel(PAST, tick=False):
        sign_in(personas.owner_a.email)
        sign_in(personas.viewer_a.email, "wrong-password", ip="203.0.113.9")
    sign_in(personas.owner_b.email).post("/accounts/logout/")
    sessions = {"owner_b": sign_in(personas.owner_b.email)}
    sign_in("nobody-like-this@example.test", "guess")
    for name in ("msp_admin", "engineer", "account_manager", "viewer_a", "owner_a"):
        sessions[name] = sign_in(getattr(personas, name).email)
    return sessions


def test_real_sign_ins_failures_and_sign_outs_are_recorded(history, personas):
    events = list(AuditEvent.objects.order_by("occurred_at", "id"))
    assert [(e.kind, e.actor_label, e.client.slug if e.client else None) for e in events] == [
        ("login.succeeded", personas.owner_a.email, "tenant-a"),
        ("login.failed", personas.viewer_a.email, "tenant-a"),
        ("login.succeeded", personas.owner_b.email, "tenant-b"),
        ("logout", personas.owner_b.email, "tenant-b"),
        ("login.succeeded", personas.owner_b.email, "tenant-b"),
        ("login.failed", "nobody-like-this@example.test", None),
        ("login.succeeded", personas.msp_admin.email, None),
        ("login.succeeded", personas.engineer.email, None),
        ("login.succeeded", personas.account_manager.email, None),
        ("login.succeeded", personas.viewer_a.email, "tenant-a"),
        ("login.succeeded", personas.owner_a.email, "tenant-a"),
    ]
    failed = events[1]
    assert failed.actor is None and failed.ip_address == "203.0.113.9"
    assert failed.occurred_at == PAST
    assert "wrong-password" not in str(failed.detail)
    assert events[0].actor == personas.owner_a and events[0].user_agent == "Test browser/1.0"


A_ROWS = [
    ("login.succeeded", "owner@a.test"),
    ("login.succeeded", "viewer@a.test"),
    ("login.failed", "viewer@a.test"),
    ("login.succeeded", "owner@a.test"),
]


def test_a_clients_log_shows_its_own_rows_to_its_owners_and_msp_admins(history, personas):
    owner_a = history["owner_a"]
    page = owner_a.get(A_LOG)
    assert page.status_code == 200
    assert rows_of(page) == A_ROWS
    body = page.content.decode()
    assert "Sign-in failed" in body and "Signed in" in body  # the kinds' labels
    assert personas.owner_b.email not in body and personas.msp_admin.email not in body
    assert "nobody-like-this" not in body
    # Tenant B's log does not exist for A's owner; A's viewer and MSP staff other than the
    # admins may not read A's.
    assert owner_a.get(B_LOG).status_code == 404
    for name in ("viewer_a", "engineer", "account_manager"):
        assert history[name].get(A_LOG).status_code == 403, name
    assert rows_of(history["msp_admin"].get(A_LOG)) == A_ROWS
    assert rows_of(history["msp_admin"].get(B_LOG)) == [
        ("login.succeeded", personas.owner_b.email),
        ("logout", personas.owner_b.email),
        ("login.succeeded", personas.owner_b.email),
    ]
    assert rows_of(history["owner_b"].get(B_LOG))[1] == ("logout", personas.owner_b.email)


def test_the_msp_wide_log_is_for_msp_admins_and_shows_every_row(history):
    page = history["msp_admin"].get(MSP_LOG)
    assert page.status_code == 200
    assert len(rows_of(page)) == 11
    assert "nobody-like-this@example.test" in page.content.decode()
    for name in ("engineer", "owner_a", "account_manager"):
        assert history[name].get(MSP_LOG).status_code == 403, name
    assert HttpClient().get(MSP_LOG).status_code == 302


def test_filters_by_kind_actor_and_days_in_the_clients_time_zone(history, personas):
    http = history["msp_admin"]
    assert rows_of(http.get(A_LOG, {"kind": "login.failed"})) == [
        ("login.failed", personas.viewer_a.email)
    ]
    by_actor = http.get(MSP_LOG, {"actor": "OWNER@"})
    assert {actor for _, actor in rows_of(by_actor)} == {"owner@a.test", "owner@b.test"}
    day = chicago_day(PAST)
    assert rows_of(http.get(A_LOG, {"since": day, "until": day})) == A_ROWS[2:]
    today = chicago_day(datetime.now(UTC))
    assert rows_of(http.get(A_LOG, {"since": today})) == A_ROWS[:2]
    assert rows_of(http.get(MSP_LOG, {"client": "tenant-b", "kind": "logout"})) == [
        ("logout", personas.owner_b.email)
    ]
    bad = http.get(A_LOG, {"since": "not-a-day", "kind": "login.maybe"})
    assert bad.status_code == 200
    assert rows_of(bad) == [] and 'data-testid="filter-errors"' in bad.content.decode()
    assert len(rows_of(http.get(A_LOG, {"since": "0001-01-01", "until": "9999-12-31"}))) == 4
    api = http.get("/clients/tenant-a/api/v1/audit-events/", {"until": "9999-12-31"})
    assert api.status_code == 200 and api.json()["count"] == 4
    assert http.get("/api/v1/audit-events/", {"since": "soon"}).status_code == 400
    assert http.get(A_LOG + "export.csv", {"since": "yesterday"}).status_code == 400
    assert not AuditEvent.objects.filter(kind="export.downloaded").exists()


def test_the_log_is_paginated(personas):
    # From 53 addresses: a failure each, under the lockout's limits (test_lockout tests those).
    for n in range(53):
        sign_in(personas.owner_a.email, "wrong-password", ip=f"203.0.113.{n + 1}")
    http = sign_in(personas.owner_a.email)
    first = http.get(A_LOG)
    assert len(rows_of(first)) == 50 and 'data-testid="pagination"' in first.content.decode()
    assert "54 in all" in first.content.decode()
    assert rows_of(first)[0] == ("login.succeeded", personas.owner_a.email)
    assert len(rows_of(http.get(A_LOG, {"page": 2}))) == 4


def test_the_csv_export_holds_the_filtered_rows_and_is_itself_recorded(history, personas, tenant_a):
    http = history["owner_a"]
    response = http.get(A_LOG + "export.csv", {"kind": ["login.succeeded", "login.failed"]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-log-tenant-a.csv"' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    expected = AuditEvent.objects.filter(
        client=tenant_a, kind__in=["login.succeeded", "login.failed"]
    ).order_by("-occurred_at", "-id")
    assert [(r["kind"], r["actor"], r["client"]) for r in table] == [
        (e.kind, e.actor_label, "tenant-a") for e in expected
    ]
    assert [r["event"] for r in table] == ["Signed in", "Signed in", "Sign-in failed", "Signed in"]
    assert table[2]["ip_address"] == "203.0.113.9"
    in_chicago = PAST.astimezone(ZoneInfo("America/Chicago")).isoformat()
    assert table[2]["occurred_at"] == in_chicago  # the client's time, with its offset
    export = AuditEvent.objects.get(kind="export.downloaded")
    assert (export.actor, export.client, export.target) == (
        personas.owner_a,
        tenant_a,
        "audit-log.csv",
    )
    assert export.detail["rows"] == len(table) == 4
    assert export.detail["filters"] == {"kind": ["login.succeeded", "login.failed"]}
    # The export shows on the client's log, not on the other client's.
    assert ("export.downloaded", personas.owner_a.email) in rows_of(http.get(A_LOG))
    assert all(kind != "export.downloaded" for kind, _ in rows_of(history["owner_b"].get(B_LOG)))


def test_the_api_answers_the_same_rows_to_the_same_people(
    history, personas, make_token, api, tenant_a
):
    owner = history["owner_a"]
    body = owner.get("/clients/tenant-a/api/v1/audit-events/").json()
    assert body["count"] == 4
    assert [(r["kind"], r["actor"], r["client"]) for r in body["results"]] == [
        (kind, actor, "tenant-a") for kind, actor in A_ROWS
    ]
    assert body["results"][2]["event"] == "Sign-in failed"
    assert owner.get("/clients/tenant-b/api/v1/audit-events/").status_code == 404
    assert owner.get("/api/v1/audit-events/").status_code == 403
    filtered = owner.get("/clients/tenant-a/api/v1/audit-events/?kind=login.failed").json()
    assert [r["actor"] for r in filtered["results"]] == [personas.viewer_a.email]
    admin = history["msp_admin"].get("/api/v1/audit-events/?client=tenant-b&kind=logout").json()
    assert [(r["kind"], r["actor"]) for r in admin["results"]] == [
        ("logout", personas.owner_b.email)
    ]
    assert history["engineer"].get("/api/v1/audit-events/").status_code == 403
    _, read = make_token(TokenScope.READ, tenant_a)
    _, msp_wide = make_token(TokenScope.WRITE, None)
    assert api(read).get("/clients/tenant-a/api/v1/audit-events/").status_code == 403
    assert api(msp_wide).get("/api/v1/audit-events/").status_code == 403
