"""MSP admins manage the MSP's staff in the app (the Users page), not the Django admin: invite a
member of staff by mail (they choose their own password, then add their second factor), change
a staff role, choose the clients an account manager looks after, withdraw an invitation. Each
step is an audit-log row; an account manager's clients also in each client's evidence chain."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent, Invitation
from evidence.models import EvidenceEvent
from tenants.models import User
from tenants.permissions import role_in
from tests.accounts.helpers import invitation_link, messages_to

pytestmark = pytest.mark.django_db

USERS = "/accounts/users/"


def _invite(admin: HttpClient, email: str, role: str):
    return admin.post(USERS, {"action": "invite", "email": email, "role": role})


def test_an_admin_invites_an_engineer_who_sets_a_password_and_must_add_a_factor(
    login, personas, tenant_a
):
    admin = login(personas.msp_admin)
    response = _invite(admin, "New.Engineer@MSP.test", "engineer")
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="new.engineer@msp.test")
    assert invitation.client is None and invitation.role == "engineer"
    assert "new.engineer@msp.test" in admin.get(USERS).content.decode()
    path, token = invitation_link("new.engineer@msp.test")
    assert token not in invitation.token_hash  # only the hash is stored
    assert "staff" in messages_to("new.engineer@msp.test")[-1].subject

    invitee = HttpClient()
    page = invitee.get(path)
    assert page.status_code == 200 and "Join the MSP&#x27;s staff" in page.content.decode()
    assert "Engineer" in page.content.decode()
    weak = invitee.post(path, {"password1": "short", "password2": "short"})
    assert weak.status_code == 400 and not User.objects.filter(email=invitation.email).exists()
    response = invitee.post(
        path,
        {
            "full_name": "New Engineer",
            "password1": "harbour-lantern-copper-77",
            "password2": "harbour-lantern-copper-77",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="new.engineer@msp.test")
    assert user.staff_role == "engineer" and not user.is_staff and user.is_active
    assert user.check_password("harbour-lantern-copper-77")
    assert role_in(user, tenant_a) == "engineer"
    # Staff always sign in with a second factor: the next page is the enrolment.
    home = invitee.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/accounts/mfa/enrol/")
    # The link is spent.
    assert HttpClient().get(path).status_code == 410
    kinds = list(
        AuditEvent.objects.filter(target="new.engineer@msp.test")
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds[:3] == ["invitation.sent", "invitation.accepted", "user.created"]
    created = AuditEvent.objects.get(kind="user.created", target=user.email)
    assert created.detail["staff_role"] == "engineer"
    assert created.detail["invited_by"] == personas.msp_admin.email


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("not-an-address", "engineer", "valid email"),
        ("x@msp.test", "superuser", "valid choice"),
        ("owner@a.test", "engineer", "already has an account"),
        ("engineer@msp.test", "msp_admin", "already has an account"),
    ],
)
def test_bad_staff_invitations_change_nothing(login, personas, email, role, message):
    admin = login(personas.msp_admin)
    response = _invite(admin, email, role)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Invitation.objects.exists() and not mail.outbox
    assert User.objects.get(email="engineer@msp.test").staff_role == "engineer"


def test_a_second_open_invitation_is_refused_and_a_withdrawn_link_is_dead(login, personas):
    admin = login(personas.msp_admin)
    assert _invite(admin, "am2@msp.test", "account_manager").status_code == 302
    again = _invite(admin, "am2@msp.test", "engineer")
    assert again.status_code == 400 and "already has an open invitation" in again.content.decode()
    path, _ = invitation_link("am2@msp.test")
    invitation = Invitation.objects.get(email="am2@msp.test")
    response = admin.post(USERS, {"action": "withdraw", "invitation": str(invitation.uuid)})
    assert response.status_code == 302
    assert HttpClient().get(path).status_code == 410
    assert AuditEvent.objects.filter(kind="invitation.revoked", target="am2@msp.test").exists()
    # A client's People page cannot withdraw a staff invitation.
    assert _invite(admin, "am3@msp.test", "account_manager").status_code == 302
    staff = Invitation.objects.get(email="am3@msp.test")
    admin.post("/clients/tenant-a/people/", {"action": "withdraw", "invitation": str(staff.uuid)})
    staff.refresh_from_db()
    assert staff.revoked_at is None


@pytest.mark.parametrize("persona", ["engineer", "account_manager", "owner_a", "viewer_a"])
def test_only_msp_admins_manage_staff(persona, login, personas):
    http = login(getattr(personas, persona))
    assert http.get(USERS).status_code == 403
    assert _invite(http, "x@msp.test", "msp_admin").status_code == 403
    response = http.post(
        USERS, {"action": "staff_role", "user": str(personas.engineer.uuid), "role": "msp_admin"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert User.objects.get(pk=personas.engineer.pk).staff_role == "engineer"


def test_an_admin_changes_a_staff_role_but_not_their_own(login, personas, tenant_b):
    admin = login(personas.msp_admin)
    response = admin.post(
        USERS,
        {"action": "staff_role", "user": str(personas.engineer.uuid), "role": "account_manager"},
    )
    assert response.status_code == 302
    engineer = User.objects.get(pk=personas.engineer.pk)
    assert engineer.staff_role == "account_manager"
    assert role_in(engineer, tenant_b) is None  # an account manager sees only their clients
    row = AuditEvent.objects.get(kind="user.role_changed")
    assert row.actor == personas.msp_admin and row.target == engineer.email
    assert (row.detail["old_role"], row.detail["new_role"]) == ("engineer", "account_manager")

    response = admin.post(
        USERS,
        {"action": "staff_role", "user": str(personas.msp_admin.uuid), "role": "engineer"},
        follow=True,
    )
    assert "cannot change your own role" in response.content.decode()
    assert User.objects.get(pk=personas.msp_admin.pk).staff_role == "msp_admin"
    # A client user has no staff role to change.
    response = admin.post(
        USERS,
        {"action": "staff_role", "user": str(personas.owner_a.uuid), "role": "engineer"},
        follow=True,
    )
    assert "No member of the MSP" in response.content.decode()
    assert User.objects.get(pk=personas.owner_a.pk).staff_role == ""

    promoted = admin.post(
        USERS, {"action": "staff_role", "user": str(engineer.uuid), "role": "msp_admin"}
    )
    assert promoted.status_code == 302
    assert User.objects.get(pk=engineer.pk).is_staff  # MSP admins reach the Django admin


def test_an_admin_demotes_another_admin_and_stays_one(login, personas):
    other = User.objects.create_user(email="admin2@msp.test", staff_role="msp_admin")
    response = login(other).post(
        USERS,
        {"action": "staff_role", "user": str(personas.msp_admin.uuid), "role": "engineer"},
    )
    assert response.status_code == 302
    demoted = User.objects.get(pk=personas.msp_admin.pk)
    assert demoted.staff_role == "engineer" and not demoted.is_staff
    assert User.objects.get(pk=other.pk).staff_role == "msp_admin"


def test_an_admin_chooses_the_clients_an_account_manager_manages(
    login, signed_in, personas, tenant_a, tenant_b
):
    am = personas.account_manager
    assert role_in(am, tenant_a) == "account_manager" and role_in(am, tenant_b) is None
    admin = login(personas.msp_admin)
    response = admin.post(
        USERS, {"action": "clients", "user": str(am.uuid), "clients": [str(tenant_b.uuid)]}
    )
    assert response.status_code == 302
    am = User.objects.get(pk=am.pk)
    assert role_in(am, tenant_b) == "account_manager" and role_in(am, tenant_a) is None
    assert signed_in(am).get("/clients/tenant-a/").status_code == 404
    with tenant_context(tenant_b):
        added = EvidenceEvent.objects.get(kind="person.account_manager_assigned")
        assert added.payload["email"] == am.email
    with tenant_context(tenant_a):
        assert EvidenceEvent.objects.filter(kind="person.account_manager_unassigned").count() == 1
    rows = AuditEvent.objects.filter(kind__startswith="account_manager.")
    assert {(r.kind, r.client.slug) for r in rows} == {
        ("account_manager.assigned", "tenant-b"),
        ("account_manager.unassigned", "tenant-a"),
    }
    # Admins and engineers see every client: they get no list of clients.
    response = admin.post(
        USERS,
        {"action": "clients", "user": str(personas.engineer.uuid), "clients": [str(tenant_a.uuid)]},
        follow=True,
    )
    assert "only account managers" in response.content.decode()
    # An unknown client changes nothing.
    response = admin.post(
        USERS,
        {"action": "clients", "user": str(am.uuid), "clients": ["not-a-uuid"]},
        follow=True,
    )
    assert response.status_code == 200
    assert list(User.objects.get(pk=am.pk).managed_clients.all()) == [tenant_b]


def test_an_account_manager_made_engineer_keeps_no_client_list(login, personas, tenant_a):
    admin = login(personas.msp_admin)
    am = personas.account_manager
    admin.post(USERS, {"action": "staff_role", "user": str(am.uuid), "role": "engineer"})
    assert not User.objects.get(pk=am.pk).managed_clients.exists()
    with tenant_context(tenant_a):
        assert EvidenceEvent.objects.filter(kind="person.account_manager_unassigned").count() == 1
