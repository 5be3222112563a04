"""The second factor at sign-in: who needs one, enrolment at first login, the verify step, wrong
and reused codes, recovery codes, the viewers' requirement per client and the Django admin.

Everything goes through the pages (Django's login form, then the second-factor pages); TOTP codes
are computed by ``tests.mfa`` (RFC 6238 on hmac/hashlib/base32), not by django-otp.
"""

from __future__ import annotations

import base64
import html
import io
import re
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent
from evidence.models import EvidenceEvent
from tenants.choices import MembershipRole, StaffRole
from tenants.models import User
from tenants.services import add_membership
from tests.conftest import PASSWORD
from tests.mfa import fresh_code, hotp, totp

pytestmark = pytest.mark.django_db

ENROL = "/accounts/mfa/enrol/"
VERIFY = "/accounts/mfa/verify/"


def _user(email: str, *, staff_role: str = "", superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(email=email, password=PASSWORD)
    return User.objects.create_user(email=email, password=PASSWORD, staff_role=staff_role)


def _password_login(user: User) -> HttpClient:
    http = HttpClient()
    response = http.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return http


def _audits(user: User, kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(actor=user, kind=kind))


def _enrol_through_the_page(http: HttpClient, next_path: str = "/") -> tuple[str, list[str]]:
    """Read the key from the enrolment page, confirm with its code; answer key and codes."""
    page = http.get(f"{ENROL}?next={next_path}")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body and "<script" not in body
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', body).group(1)
    done = http.post(ENROL, {"code": totp(secret), "next": next_path})
    assert done.status_code == 200, done.content
    codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", done.content.decode())
    return secret.replace(" ", ""), codes


@pytest.mark.parametrize(
    "role", [StaffRole.MSP_ADMIN, StaffRole.ENGINEER, StaffRole.ACCOUNT_MANAGER, "superuser"]
)
def test_staff_enrol_at_first_login_before_any_page(role):
    user = _user(
        f"{role}@mfa.test",
        staff_role="" if role == "superuser" else role,
        superuser=role == "superuser",
    )
    http = _password_login(user)

    blocked = http.get("/catalogues/")
    assert blocked.status_code == 302
    assert blocked["Location"] == f"{ENROL}?next=%2Fcatalogues%2F"
    assert http.get(VERIFY)["Location"].startswith(ENROL)  # nothing to verify yet

    secret, codes = _enrol_through_the_page(http, "/catalogues/")
    assert len(codes) == 10 and len(set(codes)) == 10
    assert [e.detail["method"] for e in _audits(user, "mfa.enrolled")] == ["totp"]
    assert [e.detail["count"] for e in _audits(user, "mfa.recovery_codes_generated")] == [10]
    assert http.get("/catalogues/").status_code == 200
    # The codes were shown once: the enrolment page now sends to the factor page.
    assert http.get(ENROL)["Location"] == "/accounts/mfa/"

    # The next sign-in asks for a code (the one just used is spent: a newer one).
    again = _password_login(user)
    assert again.get("/catalogues/")["Location"] == f"{VERIFY}?next=%2Fcatalogues%2F"
    ok = again.post(VERIFY, {"code": fresh_code(user, secret), "next": "/catalogues/"})
    assert ok.status_code == 302 and ok["Location"] == "/catalogues/"
    assert again.get("/catalogues/").status_code == 200


def test_an_owner_signed_in_but_unverified_gets_no_page(tenant_a):
    owner = _user("owner-mfa@a.test")
    add_membership(user=owner, client=tenant_a, role=MembershipRole.CLIENT_OWNER)
    secret, _ = _enrol_through_the_page(_password_login(owner))

    http = _password_login(owner)
    for path in (
        "/",
        "/clients/tenant-a/",
        "/clients/tenant-a/portal/exceptions/",
        "/accounts/mfa/",
    ):
        response = http.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(VERIFY), path
    api = http.get("/clients/tenant-a/api/v1/assets/")
    assert api.status_code == 403 and "second factor" in api.json()["detail"]
    # Someone holding only the password cannot add a factor of their own either.
    assert http.get(ENROL)["Location"].startswith(VERIFY)

    done = http.post(VERIFY, {"code": fresh_code(owner, secret), "next": "/clients/tenant-a/"})
    assert done["Location"] == "/clients/tenant-a/"
    assert http.get("/clients/tenant-a/").status_code == 200
    assert http.get("/clients/tenant-a/api/v1/assets/").status_code == 200


def test_a_wrong_code_is_refused_audited_and_slows_the_next_attempt(tenant_a):
    owner = _user("owner-wrong@a.test")
    add_membership(user=owner, client=tenant_a, role=MembershipRole.CLIENT_OWNER)
    secret, _ = _enrol_through_the_page(_password_login(owner))
    http = _password_login(owner)
    right = fresh_code(owner, secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    refused = http.post(VERIFY, {"code": wrong, "next": "/clients/tenant-a/"})
    assert refused.status_code == 400
    assert "That code is not right" in html.unescape(refused.content.decode())
    (failed,) = _audits(owner, "mfa.failed")
    assert failed.client == tenant_a and failed.detail["step"] == "sign-in"
    assert http.get("/clients/tenant-a/")["Location"].startswith(VERIFY)

    # Straight after a wrong code even the right one waits (django-otp's back-off).
    throttled = http.post(VERIFY, {"code": right})
    assert throttled.status_code == 400
    assert "Too many wrong codes. Wait" in throttled.content.decode()
    assert len(_audits(owner, "mfa.failed")) == 2

    empty = http.post(VERIFY, {"code": ""})
    assert empty.status_code == 400 and "Enter the code" in empty.content.decode()

    time.sleep(1.1)
    assert http.post(VERIFY, {"code": right})["Location"] == "/"
    assert http.get("/clients/tenant-a/").status_code == 200


def test_a_recovery_code_works_once(tenant_a):
    owner = _user("owner-recovery@a.test")
    add_membership(user=owner, client=tenant_a, role=MembershipRole.CLIENT_OWNER)
    _, codes = _enrol_through_the_page(_password_login(owner))

    first = _password_login(owner)
    used = first.post(VERIFY, {"code": codes[3].upper().replace("-", " "), "next": "/"})
    assert used.status_code == 302
    assert first.get("/clients/tenant-a/").status_code == 200
    (event,) = _audits(owner, "mfa.recovery_code_used")
    assert event.detail["left"] == 9 and event.client == tenant_a
    assert 'codes-left">9<' in first.get("/accounts/mfa/").content.decode()

    second = _password_login(owner)
    again = second.post(VERIFY, {"code": codes[3]})
    assert again.status_code == 400
    assert "recovery code is not right or was already used" in html.unescape(again.content.decode())
    assert second.get("/clients/tenant-a/")["Location"].startswith(VERIFY)
    time.sleep(1.1)  # the back-off after the refused code
    assert second.post(VERIFY, {"code": codes[4]}).status_code == 302


def test_new_recovery_codes_and_removal_need_a_fresh_code(tenant_a):
    owner = _user("owner-manage@a.test")
    add_membership(user=owner, client=tenant_a, role=MembershipRole.CLIENT_OWNER)
    http = _password_login(owner)
    secret, old_codes = _enrol_through_the_page(http)

    refused = http.post("/accounts/mfa/recovery-codes/", {"regenerate-code": "000000"})
    assert refused.status_code == 400 and "regenerate-error" in refused.content.decode()
    time.sleep(1.1)
    made = http.post(
        "/accounts/mfa/recovery-codes/", {"regenerate-code": fresh_code(owner, secret)}
    )
    new_codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", made.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert len(_audits(owner, "mfa.recovery_codes_generated")) == 2

    # An old code no longer signs in; a new one does.
    other = _password_login(owner)
    assert other.post(VERIFY, {"code": old_codes[0]}).status_code == 400
    time.sleep(1.1)
    assert other.post(VERIFY, {"code": new_codes[0]}).status_code == 302

    time.sleep(1.1)
    assert http.post("/accounts/mfa/remove/", {"remove-code": ""}).status_code == 400
    removed = http.post("/accounts/mfa/remove/", {"remove-code": new_codes[1]})
    assert removed["Location"] == ENROL
    assert [e.detail["confirmed_with"] for e in _audits(owner, "mfa.removed")] == ["recovery_code"]
    # An owner needs a factor: without one, no page until a new app is added.
    assert http.get("/clients/tenant-a/")["Location"].startswith(ENROL)
    assert _password_login(owner).get("/clients/tenant-a/")["Location"].startswith(ENROL)


def test_an_msp_admin_requires_a_second_factor_of_one_clients_viewers(
    tenant_a, tenant_b, personas, login
):
    viewer = _user("viewer-mfa@a.test")
    add_membership(user=viewer, client=tenant_a, role=MembershipRole.CLIENT_VIEWER)
    viewer_b = _user("viewer-mfa@b.test")
    add_membership(user=viewer_b, client=tenant_b, role=MembershipRole.CLIENT_VIEWER)
    as_viewer = _password_login(viewer)
    as_viewer_b = _password_login(viewer_b)
    assert as_viewer.get("/clients/tenant-a/").status_code == 200  # not required yet
    page = as_viewer.get("/clients/tenant-a/security/").content.decode()
    assert "may sign in without a second factor" in page

    # Viewers and engineers read the setting; only MSP admins change it.
    assert as_viewer.post("/clients/tenant-a/security/", {"required": "yes"}).status_code == 403
    engineer = login(personas.engineer)
    assert engineer.post("/clients/tenant-a/security/", {"required": "yes"}).status_code == 403
    admin = login(personas.msp_admin)
    assert admin.post("/clients/tenant-a/security/", {"required": "maybe"}).status_code == 400
    assert AuditEvent.objects.filter(kind="mfa.requirement_changed").count() == 0

    saved = admin.post("/clients/tenant-a/security/", {"required": "yes"})
    assert saved.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.require_mfa_for_viewers is True
    (audit,) = AuditEvent.objects.filter(kind="mfa.requirement_changed")
    assert (audit.actor, audit.client, audit.detail) == (
        personas.msp_admin,
        tenant_a,
        {"viewers_required": True},
    )
    with tenant_context(tenant_a):
        (event,) = EvidenceEvent.objects.filter(kind="security.mfa_requirement_changed")
        assert event.actor == personas.msp_admin.email
        assert event.payload == {"viewers_required": True, "was_required": False}
    # Saving the same answer again changes and records nothing.
    admin.post("/clients/tenant-a/security/", {"required": "yes"})
    assert AuditEvent.objects.filter(kind="mfa.requirement_changed").count() == 1

    # The signed-in viewer of that client gets no page until enrolled; the other client's
    # viewer is not concerned.
    assert as_viewer.get("/clients/tenant-a/")["Location"].startswith(ENROL)
    assert as_viewer_b.get("/clients/tenant-b/").status_code == 200
    _enrol_through_the_page(as_viewer)
    assert as_viewer.get("/clients/tenant-a/").status_code == 200

    # A viewer who adds a factor without being obliged to is asked for it at every sign-in.
    secret_b, _ = _enrol_through_the_page(as_viewer_b)
    later = _password_login(viewer_b)
    assert later.get("/clients/tenant-b/")["Location"].startswith(VERIFY)
    later.post(VERIFY, {"code": fresh_code(viewer_b, secret_b)})
    assert later.get("/clients/tenant-b/").status_code == 200


def test_the_django_admin_requires_the_second_factor():
    admin = _user("root@mfa.test", superuser=True)
    http = HttpClient()
    signed = http.post(
        "/admin/login/?next=/admin/", {"username": admin.email, "password": PASSWORD}
    )
    assert signed.status_code == 302
    for path in ("/admin/", "/admin/tenants/user/"):
        response = http.get(path)
        assert response.status_code == 302 and response["Location"].startswith(ENROL), path
    secret, _ = _enrol_through_the_page(http, "/admin/")
    assert http.get("/admin/").status_code == 200

    again = HttpClient()
    again.post("/admin/login/?next=/admin/", {"username": admin.email, "password": PASSWORD})
    assert again.get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    assert (
        again.post(VERIFY, {"code": fresh_code(admin, secret), "next": "/admin/"})["Location"]
        == "/admin/"
    )
    assert again.get("/admin/tenants/user/").status_code == 200


def test_a_staff_member_who_lost_everything_is_reset_by_command_never_a_client_user(
    tenant_a,
):
    engineer = _user("lost@mfa.test", staff_role=StaffRole.ENGINEER)
    _enrol_through_the_page(_password_login(engineer))
    owner = _user("owner-reset@a.test")
    add_membership(user=owner, client=tenant_a, role=MembershipRole.CLIENT_OWNER)
    owner_secret, _ = _enrol_through_the_page(_password_login(owner))

    out = io.StringIO()
    call_command("reset_second_factor", engineer.email, stdout=out)
    assert "removed" in out.getvalue()
    (removed,) = AuditEvent.objects.filter(kind="mfa.removed", target=engineer.email)
    assert removed.actor_label == "command:reset_second_factor"
    assert _password_login(engineer).get("/catalogues/")["Location"].startswith(ENROL)

    with pytest.raises(CommandError, match="client user"):
        call_command("reset_second_factor", owner.email)
    http = _password_login(owner)
    assert http.get("/clients/tenant-a/")["Location"].startswith(VERIFY)
    assert http.post(VERIFY, {"code": fresh_code(owner, owner_secret)}).status_code == 302


def test_the_admin_shows_no_second_factor_keys(personas, login):
    admin = login(personas.msp_admin)
    assert admin.get("/admin/").status_code == 200
    assert admin.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert admin.get("/admin/otp_static/staticdevice/").status_code == 404


def test_changing_a_factor_one_does_not_have_says_so(personas, login):
    viewer = login(personas.viewer_a)  # needs no factor and has none
    page = viewer.get("/accounts/mfa/").content.decode()
    assert "You have no second factor" in page
    for path, field in (("recovery-codes/", "regenerate-code"), ("remove/", "remove-code")):
        response = viewer.post(f"/accounts/mfa/{path}", {field: "123456"}, follow=True)
        assert response.redirect_chain == [("/accounts/mfa/", 302)]
        assert "You have no authenticator app to change" in response.content.decode()
    assert not AuditEvent.objects.filter(actor=personas.viewer_a, kind__startswith="mfa.").exists()


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (20000000000, "65353130"),
    ],
)
def test_the_tests_own_totp_gives_the_rfc_6238_test_vectors(at, code):
    """RFC 6238 appendix B, SHA-1 key "12345678901234567890", 8 digits."""
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert hotp(base64.b32decode(secret), int(at // 30), digits=8) == code
    assert totp(secret, at=at) == code[-6:]
