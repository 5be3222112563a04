"""Sessions: idle timeouts (shorter for MSP staff), an absolute lifetime, "log out other
sessions"."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from accounts.models import AuditEvent, UserSession

pytestmark = pytest.mark.django_db

HOME = "/clients/tenant-a/"


@override_settings(SESSION_IDLE_TIMEOUT_STAFF_MINUTES=15, SESSION_IDLE_TIMEOUT_CLIENT_MINUTES=60)
def test_staff_sessions_go_idle_sooner_than_client_users(personas, signed_in):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        engineer, owner = signed_in(personas.engineer), signed_in(personas.owner_a)
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert engineer.get(HOME).status_code == 200
    # 16 minutes after the engineer's last request: signed out; the owner (idle 30) is not.
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        response = engineer.get(HOME)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert owner.get(HOME).status_code == 200
    with time_machine.travel(start + timedelta(minutes=91), tick=False):
        assert owner.get(HOME).status_code == 302
    reasons = AuditEvent.objects.filter(kind="logout").values_list("actor__email", "detail")
    assert sorted(reasons) == [
        ("engineer@msp.test", {"reason": "idle"}),
        ("owner@a.test", {"reason": "idle"}),
    ]
    assert not UserSession.objects.filter(user__in=[personas.engineer, personas.owner_a]).exists()


@override_settings(SESSION_ABSOLUTE_LIFETIME_HOURS=1, SESSION_IDLE_TIMEOUT_CLIENT_MINUTES=30)
def test_an_active_session_still_ends_at_its_absolute_lifetime(personas, signed_in):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        owner = signed_in(personas.owner_a)
    for minutes in (20, 40, 59):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert owner.get(HOME).status_code == 200
    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        assert owner.get(HOME).status_code == 302
    assert AuditEvent.objects.get(kind="logout").detail == {"reason": "absolute"}


def test_log_out_other_sessions(personas, signed_in):
    laptop, phone, tablet = (signed_in(personas.owner_a) for _ in range(3))
    other_user = signed_in(personas.viewer_a)
    page = laptop.get("/accounts/sessions/")
    assert page.status_code == 200 and page.content.count(b"<tr>") == 1 + 3
    response = laptop.post("/accounts/sessions/")
    assert response.status_code == 302
    assert laptop.get(HOME).status_code == 200
    assert phone.get(HOME).status_code == 302 and tablet.get(HOME).status_code == 302
    assert other_user.get(HOME).status_code == 200
    assert UserSession.objects.filter(user=personas.owner_a).count() == 1
    row = AuditEvent.objects.get(kind="sessions.ended")
    assert row.actor == personas.owner_a and row.detail == {"sessions_ended": 2}


def test_signing_out_forgets_the_session(personas, signed_in):
    http = signed_in(personas.owner_a)
    assert UserSession.objects.filter(user=personas.owner_a).count() == 1
    http.post("/accounts/logout/")
    assert not UserSession.objects.filter(user=personas.owner_a).exists()


@override_settings(
    SESSION_IDLE_TIMEOUT_STAFF_MINUTES=30,
    SESSION_IDLE_TIMEOUT_CLIENT_MINUTES=120,
    SESSION_ABSOLUTE_LIFETIME_HOURS=12,
)
def test_the_settings_check_wants_staff_to_idle_out_first():
    from accounts.checks import session_settings

    assert session_settings(None) == []
    with override_settings(SESSION_IDLE_TIMEOUT_STAFF_MINUTES=240):
        assert [p.id for p in session_settings(None)] == ["accounts.W001"]
    with override_settings(INVITATION_MAX_AGE_HOURS=0):
        assert [p.id for p in session_settings(None)] == ["accounts.E001"]
