"""Re-roling and removing a client user: an evidence event, an audit row and a mail to the
client's other owners (not to whoever acted); the only owner stays."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent
from evidence.models import EvidenceEvent
from tenants.choices import MembershipRole
from tenants.models import Membership
from tests.accounts.helpers import messages_to

pytestmark = pytest.mark.django_db

PEOPLE = "/clients/tenant-a/people/"


def _events(client, kind):
    with tenant_context(client):
        return list(EvidenceEvent.objects.filter(kind=kind))


def test_re_roling_is_evented_audited_and_mailed_to_the_other_owners(login, personas, tenant_a):
    admin = login(personas.msp_admin)
    response = admin.post(
        PEOPLE,
        {
            "action": "role",
            "user": str(personas.viewer_a.uuid),
            "role": MembershipRole.CLIENT_OWNER,
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=personas.viewer_a, client=tenant_a)
    assert membership.role == MembershipRole.CLIENT_OWNER
    [event] = _events(tenant_a, "person.role_changed")
    assert event.subject_id == str(personas.viewer_a.uuid)
    assert event.payload == {
        "email": personas.viewer_a.email,
        "old_role": MembershipRole.CLIENT_VIEWER,
        "new_role": MembershipRole.CLIENT_OWNER,
    }
    assert event.actor == personas.msp_admin.email
    row = AuditEvent.objects.get(kind="membership.role_changed", client=tenant_a)
    assert row.actor == personas.msp_admin and row.target == personas.viewer_a.email
    assert row.detail["new_role"] == MembershipRole.CLIENT_OWNER
    [notice] = messages_to(personas.owner_a.email)
    assert personas.viewer_a.email in notice.body and "Client owner" in notice.body
    assert "/clients/tenant-a/people/" in notice.body
    assert '<a href="http://testserver/clients/tenant-a/people/">' in notice.alternatives[0][0]
    assert not messages_to(personas.msp_admin.email)
    # Owners of another client hear nothing.
    assert not messages_to(personas.owner_b.email)


def test_removing_is_evented_audited_and_mailed_and_ends_the_access(login, personas, tenant_a):
    viewer = login(personas.viewer_a)
    assert viewer.get("/clients/tenant-a/").status_code == 200
    admin = login(personas.msp_admin)
    response = admin.post(PEOPLE, {"action": "remove", "user": str(personas.viewer_a.uuid)})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=personas.viewer_a, client=tenant_a).exists()
    [event] = _events(tenant_a, "person.removed")
    assert event.payload == {"email": personas.viewer_a.email, "role": MembershipRole.CLIENT_VIEWER}
    assert AuditEvent.objects.filter(
        kind="membership.removed", client=tenant_a, target=personas.viewer_a.email
    ).exists()
    [notice] = messages_to(personas.owner_a.email)
    assert personas.viewer_a.email in notice.body and "removed" in notice.body
    assert login(personas.viewer_a).get("/clients/tenant-a/").status_code == 404


def test_an_owner_re_roles_a_colleague_and_the_other_owners_are_told(login, personas, tenant_a):
    # A second owner, through the admin's re-role, so that the acting owner has a colleague.
    login(personas.msp_admin).post(
        PEOPLE,
        {
            "action": "role",
            "user": str(personas.viewer_a.uuid),
            "role": MembershipRole.CLIENT_OWNER,
        },
    )
    from django.core import mail

    mail.outbox.clear()
    owner = login(personas.owner_a)
    response = owner.post(
        PEOPLE,
        {
            "action": "role",
            "user": str(personas.viewer_a.uuid),
            "role": MembershipRole.CLIENT_VIEWER,
        },
    )
    assert response.status_code == 302
    assert [e.payload["new_role"] for e in _events(tenant_a, "person.role_changed")] == [
        MembershipRole.CLIENT_OWNER,
        MembershipRole.CLIENT_VIEWER,
    ]
    # The acting owner is not mailed; the demoted one is no owner any more.
    assert not mail.outbox


def test_the_only_owner_is_neither_demoted_nor_removed(login, personas, tenant_a):
    admin = login(personas.msp_admin)
    for data in (
        {
            "action": "role",
            "user": str(personas.owner_a.uuid),
            "role": MembershipRole.CLIENT_VIEWER,
        },
        {"action": "remove", "user": str(personas.owner_a.uuid)},
    ):
        response = admin.post(PEOPLE, data, follow=True)
        assert b"only owner" in response.content
    assert Membership.objects.get(user=personas.owner_a, client=tenant_a).role == (
        MembershipRole.CLIENT_OWNER
    )
    assert not _events(tenant_a, "person.role_changed")
    assert not _events(tenant_a, "person.removed")


def test_a_person_of_another_client_is_not_touched(login, personas, tenant_b):
    admin = login(personas.msp_admin)
    response = admin.post(
        PEOPLE, {"action": "remove", "user": str(personas.owner_b.uuid)}, follow=True
    )
    assert b"not a member of this client" in response.content
    assert Membership.objects.filter(user=personas.owner_b, client=tenant_b).exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"action": "explode"},
        {"action": "role", "user": "not-a-uuid", "role": MembershipRole.CLIENT_OWNER},
        {"action": "role", "user": "00000000-0000-0000-0000-000000000000", "role": "god"},
        {"action": "withdraw", "invitation": ""},
        {"action": "remove"},
    ],
)
def test_bad_posts_change_nothing(login, personas, tenant_a, data):
    admin = login(personas.msp_admin)  # adding the admin's authenticator app is audited
    before = list(Membership.objects.values_list("user_id", "client_id", "role"))
    rows = set(AuditEvent.objects.values_list("id", flat=True))
    response = admin.post(PEOPLE, data)
    assert response.status_code in (302, 400)
    assert list(Membership.objects.values_list("user_id", "client_id", "role")) == before
    assert set(AuditEvent.objects.values_list("id", flat=True)) == rows
