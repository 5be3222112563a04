"""Sign-in lockout: per e-mail address and client address, per client address, the lockout
page, the audit rows, and lifting it (Django admin action and ``unlock_account``)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.test import RequestFactory

from accounts.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-at-all"


def sign_in(http: HttpClient, email: str, password: str, ip: str = "198.51.100.7"):
    return http.post("/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)


SECOND_STEP = ("/accounts/mfa/verify/", "/accounts/mfa/enrol/")


def signed_in(http: HttpClient) -> bool:
    """Past the password: the session is the user's and its next page is the second step
    (verify, or enrol without a factor yet) for those who need one, the page itself otherwise."""
    if "_auth_user_id" not in http.session:
        return False
    page = http.get("/")
    return page.status_code == 200 or page.get("Location", "").startswith(SECOND_STEP)


def test_sixty_wrong_passwords_then_the_right_one_is_refused_until_unlocked(personas, capsys):
    http = HttpClient()
    email = personas.engineer.email
    statuses = [sign_in(http, email, WRONG).status_code for _ in range(60)]
    limit = settings.LOGIN_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert set(statuses[limit - 1 :]) == {429}

    response = sign_in(http, email, PASSWORD)
    assert response.status_code == 429
    assert not signed_in(http)
    assert "Sign-in paused" in response.content.decode()
    assert int(response["Retry-After"]) == settings.LOGIN_LOCKOUT_MINUTES * 60

    call_command("unlock_account", email.upper())
    assert "lifted" in capsys.readouterr().out
    response = sign_in(http, email, PASSWORD)
    assert response.status_code == 302 and signed_in(http)

    kinds = list(
        AuditEvent.objects.filter(target=email).order_by("id").values_list("kind", flat=True)
    )
    assert kinds.count("login.failed") == 61
    assert kinds.count("login.locked_out") == 1  # once, when it locked
    assert kinds[-2:] == ["login.unlocked", "login.succeeded"]
    failed = AuditEvent.objects.filter(kind="login.failed", target=email).order_by("id")
    assert failed.first().ip_address == "198.51.100.7"
    assert [e.detail["locked"] for e in failed][limit - 2 : limit] == [False, True]


def test_the_lockout_is_per_address_pair_another_address_still_signs_in(personas):
    email = personas.engineer.email
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in(HttpClient(), email, WRONG, ip="198.51.100.7")
    assert sign_in(HttpClient(), email, PASSWORD, ip="198.51.100.7").status_code == 429
    elsewhere = HttpClient()
    assert sign_in(elsewhere, email, PASSWORD, ip="192.0.2.44").status_code == 302
    assert signed_in(elsewhere)


def test_guesses_spread_over_accounts_lock_the_address(personas):
    per_account = settings.LOGIN_FAILURE_LIMIT - 1  # never enough to lock one account
    guessed = 0
    n = 0
    while guessed < settings.LOGIN_IP_FAILURE_LIMIT:
        email = f"guess{n}@example.com"
        for _ in range(min(per_account, settings.LOGIN_IP_FAILURE_LIMIT - guessed)):
            sign_in(HttpClient(), email, WRONG, ip="203.0.113.50")
            guessed += 1
        n += 1
    # A real account never tried from this address is refused from it, not from elsewhere.
    response = sign_in(HttpClient(), personas.viewer_a.email, PASSWORD, ip="203.0.113.50")
    assert response.status_code == 429
    assert (
        sign_in(HttpClient(), personas.viewer_a.email, PASSWORD, ip="192.0.2.9").status_code == 302
    )
    locked = AuditEvent.objects.filter(kind="login.locked_out", ip_address="203.0.113.50")
    assert [e.detail["scope"] for e in locked] == ["address"]

    call_command("unlock_account", "--ip", "203.0.113.50")
    http = HttpClient()
    assert sign_in(http, personas.viewer_a.email, PASSWORD, ip="203.0.113.50").status_code == 302


def test_authenticate_with_a_request_is_counted_and_refused_when_locked(personas):
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="198.51.100.8")
    email = personas.owner_a.email
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert authenticate(request=request, username=email, password=WRONG) is None
    assert authenticate(request=request, username=email, password=PASSWORD) is None
    # The test client's login() (no request) is no sign-in from anywhere: not counted.
    assert HttpClient().login(username=email, password=PASSWORD) is True


def test_msp_admin_lifts_a_lockout_in_the_django_admin(personas, login):
    email = personas.owner_a.email
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in(HttpClient(), email, WRONG)
    from axes.models import AccessAttempt

    admin = login(personas.msp_admin)
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and email in page.content.decode()
    attempt = AccessAttempt.objects.get(username=email)
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_lockout", "_selected_action": [attempt.pk]},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username=email).exists()
    lifted = AuditEvent.objects.get(kind="login.unlocked", target=email)
    assert lifted.actor == personas.msp_admin
    assert lifted.detail["failures_cleared"] == settings.LOGIN_FAILURE_LIMIT
    http = HttpClient()
    assert sign_in(http, email, PASSWORD).status_code == 302


def test_the_admin_cannot_edit_or_delete_failure_records(personas, login):
    sign_in(HttpClient(), personas.owner_a.email, WRONG)
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username=personas.owner_a.email)
    admin = login(personas.msp_admin)
    assert admin.get(f"/admin/axes/accessattempt/{attempt.pk}/delete/").status_code == 403
    assert admin.get("/admin/axes/accessattempt/add/").status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give the e-mail address"),
        (["not-an-address"], "valid email"),
        (["--ip", "300.1.1.1"], "IPv4"),
    ],
)
def test_unlock_account_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("unlock_account", *args)
    assert not AuditEvent.objects.filter(kind="login.unlocked").exists()


def test_unlock_of_an_address_with_no_failures_says_so_and_records_nothing(capsys):
    call_command("unlock_account", "nobody@example.com")
    assert "nothing to lift" in capsys.readouterr().out
    assert not AuditEvent.objects.filter(kind="login.unlocked").exists()


def test_sign_in_and_sign_out_are_recorded(personas):
    http = HttpClient()
    assert sign_in(http, personas.engineer.email, PASSWORD).status_code == 302
    http.post("/accounts/logout/", REMOTE_ADDR="198.51.100.7")
    kinds = list(
        AuditEvent.objects.filter(actor=personas.engineer)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["login.succeeded", "logout"]


def test_force_login_records_nothing_and_is_not_locked(personas, login):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in(HttpClient(), personas.engineer.email, WRONG)
    http = login(personas.engineer)
    assert http.get("/").status_code == 200
    assert not AuditEvent.objects.filter(kind="login.succeeded").exists()
