"""Client users join only by invitation: a single-use, expiring link mailed to their address,
with which they choose their own password and are signed in."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent, Invitation
from evidence.models import EvidenceEvent
from tenants.choices import MembershipRole
from tenants.models import Membership, User
from tests.accounts.helpers import invitation_link, messages_to
from tests.conftest import PASSWORD
from tests.mfa import sign_in, totp

pytestmark = pytest.mark.django_db

PEOPLE = "/clients/tenant-a/people/"
NEW = "new.owner@alpha.test"
GOOD_PASSWORD = "lantern-orchard-quietly-41"


def _invite(http, email=NEW, role=MembershipRole.CLIENT_OWNER, url=PEOPLE):
    return http.post(url, {"action": "invite", "email": email, "role": role})


def _events(client, kind):
    with tenant_context(client):
        return list(EvidenceEvent.objects.filter(kind=kind).order_by("sequence"))


def test_an_msp_admin_invites_and_the_invitee_sets_their_password_and_is_signed_in(
    login, personas, tenant_a
):
    admin = login(personas.msp_admin)
    response = _invite(admin)
    assert response.status_code == 302 and response["Location"] == PEOPLE

    path, token = invitation_link(NEW)
    invitation = Invitation.objects.get(client=tenant_a, email=NEW)
    # Only the token's hash is stored.
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not Invitation.objects.filter(token_hash=token).exists()
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)
    assert not User.objects.filter(email=NEW).exists()
    # The client's other owner is told, with a link to the page; the invitee gets the link.
    notice = messages_to(personas.owner_a.email)
    assert len(notice) == 1 and NEW in notice[0].body
    assert "/clients/tenant-a/people/" in notice[0].alternatives[0][0]
    assert not messages_to(personas.msp_admin.email)
    [invited] = _events(tenant_a, "person.invited")
    assert invited.payload["email"] == NEW and invited.actor == personas.msp_admin.email
    assert AuditEvent.objects.filter(kind="invitation.sent", client=tenant_a, target=NEW).exists()

    invitee = HttpClient()
    page = invitee.get(path)
    assert page.status_code == 200 and b"Alpha Clinic" in page.content
    weak = invitee.post(path, {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 400 and b"too short" in weak.content
    assert not User.objects.filter(email=NEW).exists()

    mail.outbox.clear()
    accepted = invitee.post(
        path, {"full_name": "Nina Owner", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert accepted.status_code == 302 and accepted["Location"] == "/clients/tenant-a/"
    user = User.objects.get(email=NEW)
    assert user.check_password(GOOD_PASSWORD) and user.full_name == "Nina Owner"
    assert Membership.objects.get(user=user, client=tenant_a).role == MembershipRole.CLIENT_OWNER
    # Signed in with the password; an owner must add a second factor before any page answers.
    asked = invitee.get("/clients/tenant-a/")
    assert asked.status_code == 302
    assert asked["Location"] == "/accounts/mfa/enrol/?next=%2Fclients%2Ftenant-a%2F"
    enrol = invitee.get(asked["Location"])
    assert enrol.status_code == 200
    secret = re.search(r'data-testid="totp-secret">([^<]+)<', enrol.content.decode()).group(1)
    enrolled = invitee.post(
        "/accounts/mfa/enrol/", {"code": totp(secret), "next": "/clients/tenant-a/"}
    )
    assert enrolled.status_code == 200 and b'href="/clients/tenant-a/"' in enrolled.content
    assert AuditEvent.objects.filter(kind="mfa.enrolled", actor__email=NEW).exists()
    # Then the client's pages answer the new owner.
    home = invitee.get("/clients/tenant-a/")
    assert home.status_code == 200 and home.wsgi_request.user == user
    [joined] = _events(tenant_a, "person.joined")
    assert joined.subject_id == str(user.uuid) and joined.payload["new_account"] is True
    assert AuditEvent.objects.filter(
        kind="membership.created", client=tenant_a, target=NEW, actor=user
    ).exists()
    assert NEW in messages_to(personas.owner_a.email)[0].body


def test_an_invitation_link_works_once(login, personas, tenant_a):
    _invite(login(personas.msp_admin))
    path, _ = invitation_link(NEW)
    form = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    assert HttpClient().post(path, form).status_code == 302

    again = HttpClient()
    assert again.get(path).status_code == 410
    second = again.post(
        path, {"password1": "other-pass-phrase-77", "password2": "other-pass-phrase-77"}
    )
    assert second.status_code == 410 and b"already been used" in second.content
    assert User.objects.get(email=NEW).check_password(GOOD_PASSWORD)
    assert Membership.objects.filter(user__email=NEW).count() == 1
    assert len(_events(tenant_a, "person.joined")) == 1


@override_settings(INVITATION_MAX_AGE_HOURS=2)
def test_an_invitation_link_expires(login, personas, tenant_a):
    _invite(login(personas.msp_admin))
    path, _ = invitation_link(NEW)
    invitation = Invitation.objects.get(email=NEW)
    assert invitation.expires_at - invitation.created_at == timedelta(hours=2)
    form = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=1)):
        late = HttpClient()
        assert late.get(path).status_code == 410
        response = late.post(path, form)
        assert response.status_code == 410 and b"expired" in response.content
    assert not User.objects.filter(email=NEW).exists()
    # Once expired, the address can be invited again (the old invitation is withdrawn).
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        mail.outbox.clear()
        assert _invite(login(personas.msp_admin)).status_code == 302
        new_path, _ = invitation_link(NEW)
        assert new_path != path
        assert HttpClient().post(new_path, form).status_code == 302
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None


def test_a_withdrawn_invitation_no_longer_works(login, personas, tenant_a):
    admin = login(personas.msp_admin)
    _invite(admin)
    path, _ = invitation_link(NEW)
    invitation = Invitation.objects.get(email=NEW)
    mail.outbox.clear()
    response = admin.post(PEOPLE, {"action": "withdraw", "invitation": str(invitation.uuid)})
    assert response.status_code == 302
    assert HttpClient().get(path).status_code == 410
    assert [e.payload["email"] for e in _events(tenant_a, "person.invitation_withdrawn")] == [NEW]
    assert AuditEvent.objects.filter(kind="invitation.revoked", target=NEW).exists()
    assert NEW in messages_to(personas.owner_a.email)[0].body


def test_an_open_invitation_is_not_sent_twice(login, personas):
    admin = login(personas.msp_admin)
    _invite(admin)
    response = _invite(admin)
    assert response.status_code == 400 and b"already has an open invitation" in response.content
    assert Invitation.objects.filter(email=NEW).count() == 1


def test_a_client_owner_invites_for_their_own_client_only(login, personas, tenant_a):
    owner = login(personas.owner_a)
    assert owner.get(PEOPLE).status_code == 200
    assert (
        _invite(owner, email="colleague@alpha.test", role=MembershipRole.CLIENT_VIEWER).status_code
        == 302
    )
    assert Invitation.objects.get(email="colleague@alpha.test").invited_by == personas.owner_a
    # The owner acting is not mailed about their own change.
    assert not messages_to(personas.owner_a.email)
    assert _invite(owner, url="/clients/tenant-b/people/").status_code == 404
    assert not Invitation.objects.filter(client__slug="tenant-b").exists()


@pytest.mark.parametrize("persona", ["viewer_a", "engineer", "account_manager"])
def test_people_without_the_people_capability_get_403(login, personas, persona):
    http = login(getattr(personas, persona))
    assert http.get(PEOPLE).status_code == 403
    assert _invite(http).status_code == 403
    assert not Invitation.objects.exists()


def test_bad_invitations_change_nothing(login, personas):
    admin = login(personas.msp_admin)
    for email, role, text in [
        ("not-an-address", MembershipRole.CLIENT_OWNER, b"Enter a valid email address"),
        (NEW, "superuser", b"not one of the available choices"),
        (personas.engineer.email, MembershipRole.CLIENT_OWNER, b"MSP staff"),
        (personas.viewer_a.email, MembershipRole.CLIENT_OWNER, b"already a member"),
    ]:
        response = _invite(admin, email=email, role=role)
        assert response.status_code == 400 and text in response.content, (email, role)
    assert not Invitation.objects.exists() and not mail.outbox


def test_an_existing_client_user_signs_in_to_accept(login, personas, tenant_a):
    _invite(
        login(personas.msp_admin), email=personas.owner_b.email, role=MembershipRole.CLIENT_VIEWER
    )
    path, _ = invitation_link(personas.owner_b.email)
    anonymous = HttpClient()
    assert b"Sign in as owner@b.test" in anonymous.get(path).content
    refused = anonymous.post(
        path, {"password1": "x-new-password-9", "password2": "x-new-password-9"}
    )
    assert refused.status_code == 403
    assert not Membership.objects.filter(user=personas.owner_b, client=tenant_a).exists()
    assert User.objects.get(pk=personas.owner_b.pk).check_password(PASSWORD)

    signed_in = sign_in(HttpClient(), personas.owner_b)  # password and second factor
    accepted = signed_in.post(path)
    assert accepted.status_code == 302 and accepted["Location"] == "/clients/tenant-a/"
    membership = Membership.objects.get(user=personas.owner_b, client=tenant_a)
    assert membership.role == MembershipRole.CLIENT_VIEWER
    assert _events(tenant_a, "person.joined")[0].payload["new_account"] is False


def test_the_people_page_lists_members_and_open_invitations(login, personas):
    admin = login(personas.msp_admin)
    _invite(admin)
    page = admin.get(PEOPLE).content.decode()
    assert personas.owner_a.email in page and personas.viewer_a.email in page
    assert NEW in page and "No open invitations" not in page
    assert "Deactivate" in page
    assert "Deactivate" not in login(personas.owner_a).get(PEOPLE).content.decode()
