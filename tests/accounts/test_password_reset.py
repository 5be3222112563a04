"""Password reset by e-mail (single use, expiring) and the password change page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone

from accounts.models import AuditEvent
from tenants.models import User
from tests.accounts.helpers import messages_to, reset_link
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "juniper-harbour-ledger-88"


def _request_reset(email: str) -> HttpClient:
    http = HttpClient()
    response = http.post("/accounts/password/reset/", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/sent/"
    return http


def _set_password(http: HttpClient, link: str, password: str = NEW_PASSWORD):
    page = http.get(link, follow=True)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    return page, http.post(form_url, {"new_password1": password, "new_password2": password})


def test_a_reset_link_sets_the_password_once(personas):
    http = _request_reset(personas.owner_a.email)
    link = reset_link(personas.owner_a.email)
    assert mail.outbox[0].alternatives[0][1] == "text/html"
    page, response = _set_password(http, link)
    assert page.context["validlink"] is True
    assert (
        response.status_code == 302 and response["Location"] == "/accounts/password/reset/complete/"
    )
    assert User.objects.get(pk=personas.owner_a.pk).check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(
        kind="password.reset_requested", target="owner@a.test"
    ).exists()
    assert AuditEvent.objects.filter(
        kind="password.reset_completed", actor=personas.owner_a
    ).exists()

    # The same link again: refused, and the password stays.
    again = HttpClient()
    page, response = _set_password(again, link, "someone-elses-choice-3")
    assert page.context["validlink"] is False
    assert b"used already or has expired" in page.content
    assert User.objects.get(pk=personas.owner_a.pk).check_password(NEW_PASSWORD)


@override_settings(PASSWORD_RESET_TIMEOUT=3600)
def test_a_reset_link_expires(personas):
    http = _request_reset(personas.viewer_a.email)
    link = reset_link(personas.viewer_a.email)
    with time_machine.travel(timezone.now() + timedelta(seconds=3601)):
        page, _ = _set_password(http, link)
    assert page.context["validlink"] is False
    assert User.objects.get(pk=personas.viewer_a.pk).check_password(PASSWORD)


def test_an_unknown_or_inactive_address_gets_the_same_answer_and_no_mail(personas):
    _request_reset("nobody-here@example.test")
    User.objects.filter(pk=personas.viewer_a.pk).update(is_active=False)
    _request_reset(personas.viewer_a.email)
    assert not mail.outbox


def test_a_reset_ends_the_users_live_sessions(personas, signed_in):
    live = signed_in(personas.owner_a)
    assert live.get("/clients/tenant-a/").status_code == 200
    http = _request_reset(personas.owner_a.email)
    _set_password(http, reset_link(personas.owner_a.email))
    assert live.get("/clients/tenant-a/").status_code == 302


def test_the_password_change_page_checks_the_old_one_and_ends_other_sessions(personas, signed_in):
    other, http = signed_in(personas.owner_a), signed_in(personas.owner_a)
    url = "/accounts/password/change/"
    assert http.get(url).status_code == 200
    wrong = http.post(
        url, {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert wrong.status_code == 200 and b"incorrect" in wrong.content
    weak = http.post(
        url, {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"}
    )
    assert weak.status_code == 200 and b"too common" in weak.content
    assert User.objects.get(pk=personas.owner_a.pk).check_password(PASSWORD)
    done = http.post(
        url,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert User.objects.get(pk=personas.owner_a.pk).check_password(NEW_PASSWORD)
    assert http.get("/clients/tenant-a/").status_code == 200  # this session stays
    assert other.get("/clients/tenant-a/").status_code == 302  # the other one ended
    assert AuditEvent.objects.filter(kind="password.changed", actor=personas.owner_a).exists()
    assert not messages_to(personas.owner_a.email)


def test_the_password_pages_need_a_sign_in():
    assert HttpClient().get("/accounts/password/change/").status_code == 302
    assert HttpClient().get("/accounts/sessions/").status_code == 302
