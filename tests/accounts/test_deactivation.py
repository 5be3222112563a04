"""Deactivation (offboarding) ends the user's live sessions and revokes their API tokens at
once; recorded in the audit log and in the evidence chain of each client they belonged to."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent, UserSession
from evidence.models import EvidenceEvent
from tenants.choices import TokenScope
from tenants.models import ApiToken, User
from tenants.services import issue_api_token
from tests.accounts.helpers import messages_to
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOME = "/clients/tenant-a/"
FINDINGS_API = "/clients/tenant-a/api/v1/findings/"


def _api(plaintext: str) -> HttpClient:
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def test_the_admin_action_ends_a_staff_members_sessions_and_tokens(
    login, personas, tenant_a, signed_in
):
    laptop, phone = signed_in(personas.engineer), signed_in(personas.engineer)
    assert laptop.get(HOME).status_code == phone.get(HOME).status_code == 200
    mine = issue_api_token(
        name="psa", scope=TokenScope.WRITE, client=None, created_by=personas.engineer
    )
    other = issue_api_token(
        name="rmm", scope=TokenScope.READ, client=tenant_a, created_by=personas.msp_admin
    )
    assert _api(mine.plaintext).get(FINDINGS_API).status_code == 200

    admin = login(personas.msp_admin)
    response = admin.post(
        "/admin/tenants/user/",
        {"action": "deactivate", "_selected_action": [personas.engineer.pk]},
    )
    assert response.status_code == 302

    assert not User.objects.get(pk=personas.engineer.pk).is_active
    for session in (laptop, phone):
        assert session.get(HOME).status_code == 302
    assert not UserSession.objects.filter(user=personas.engineer).exists()
    assert _api(mine.plaintext).get(FINDINGS_API).status_code == 401
    assert ApiToken.objects.get(pk=mine.token.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=other.token.pk).revoked_at is None
    assert _api(other.plaintext).get(FINDINGS_API).status_code == 200
    row = AuditEvent.objects.get(kind="user.deactivated")
    assert row.actor == personas.msp_admin and row.target == personas.engineer.email
    assert row.detail == {"staff_role": "engineer", "sessions_ended": 2, "tokens_revoked": 1}
    assert AuditEvent.objects.get(kind="token.revoked").target == "token:psa"
    # Signing in again is refused.
    assert not HttpClient().login(username=personas.engineer.email, password=PASSWORD)


def test_an_msp_admin_deactivates_a_client_user_from_the_people_page(
    login, personas, tenant_a, signed_in
):
    viewer = signed_in(personas.viewer_a)
    admin = login(personas.msp_admin)
    response = admin.post(
        "/clients/tenant-a/people/", {"action": "deactivate", "user": str(personas.viewer_a.uuid)}
    )
    assert response.status_code == 302
    assert viewer.get(HOME).status_code == 302
    with tenant_context(tenant_a):
        [event] = EvidenceEvent.objects.filter(kind="person.deactivated")
    assert event.subject_id == str(personas.viewer_a.uuid)
    assert event.payload["sessions_ended"] == 1 and event.payload["tokens_revoked"] == 0
    assert AuditEvent.objects.filter(
        kind="user.deactivated", client=tenant_a, target=personas.viewer_a.email
    ).exists()
    [notice] = messages_to(personas.owner_a.email)
    assert "deactivated" in notice.body


def test_a_client_owner_cannot_deactivate(login, personas):
    owner = login(personas.owner_a)
    response = owner.post(
        "/clients/tenant-a/people/", {"action": "deactivate", "user": str(personas.viewer_a.uuid)}
    )
    assert response.status_code == 403
    assert User.objects.get(pk=personas.viewer_a.pk).is_active


def test_the_command_deactivates_once_with_clear_errors(personas, tenant_a, capsys, signed_in):
    live = signed_in(personas.owner_a)
    call_command("deactivate_user", personas.owner_a.email)
    assert "1 session(s) ended" in capsys.readouterr().out
    assert live.get(HOME).status_code == 302
    with tenant_context(tenant_a):
        event = EvidenceEvent.objects.get(kind="person.deactivated")
    assert event.actor == "manage.py deactivate_user"
    with pytest.raises(CommandError, match="deactivated already"):
        call_command("deactivate_user", personas.owner_a.email)
    with pytest.raises(CommandError, match="No user with the address"):
        call_command("deactivate_user", "ghost@nowhere.test")
    assert AuditEvent.objects.filter(kind="user.deactivated").count() == 1


def test_nobody_deactivates_themselves(login, personas):
    admin = login(personas.msp_admin)
    admin.post(
        "/admin/tenants/user/",
        {"action": "deactivate", "_selected_action": [personas.msp_admin.pk]},
    )
    assert User.objects.get(pk=personas.msp_admin.pk).is_active


def test_the_users_page_deactivates_a_staff_member(login, personas, signed_in):
    engineer = signed_in(personas.engineer)
    admin = login(personas.msp_admin)
    page = admin.get("/accounts/users/")
    assert page.status_code == 200 and personas.engineer.email.encode() in page.content
    response = admin.post(
        "/accounts/users/", {"action": "deactivate", "user": str(personas.engineer.uuid)}
    )
    assert response.status_code == 302
    assert engineer.get(HOME).status_code == 302
    assert not User.objects.get(pk=personas.engineer.pk).is_active
    assert AuditEvent.objects.get(kind="user.deactivated").actor == personas.msp_admin
    again = admin.post(
        "/accounts/users/",
        {"action": "deactivate", "user": str(personas.engineer.uuid)},
        follow=True,
    )
    assert b"deactivated already" in again.content


@pytest.mark.parametrize("persona", ["engineer", "account_manager", "owner_a", "viewer_a"])
def test_only_msp_admins_reach_the_users_page(login, personas, persona):
    http = login(getattr(personas, persona))
    assert http.get("/accounts/users/").status_code == 403
    response = http.post(
        "/accounts/users/", {"action": "deactivate", "user": str(personas.viewer_a.uuid)}
    )
    assert response.status_code == 403
    assert User.objects.get(pk=personas.viewer_a.pk).is_active
