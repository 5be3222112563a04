"""Leavers: a checklist of every account they own or know, ticked item by item by named
engineers into the evidence chain; a client user deactivated gets one by themselves."""

import pytest
from django_tenants.utils import tenant_context

from accounts.people import deactivate_user
from evidence.models import EvidenceEvent
from privileged.choices import ChecklistSource, ChecklistState, ItemAction
from privileged.models import OffboardingChecklist, PrivilegedAccount
from tenants.choices import MembershipRole
from tenants.models import User
from tenants.services import add_membership
from tests.privileged.helpers import BASE, register, session

pytestmark = pytest.mark.django_db
LEAVER = "alex@client.test"


def _offboarding_events(checklist):
    return list(
        EvidenceEvent.objects.filter(subject_type="offboarding", subject_id=str(checklist.uuid))
        .order_by("sequence")
    )  # fmt: skip


def _scenario(tenant, actor):
    return {
        "own": register(tenant, actor, name="Alex admin", owner_email=LEAVER),
        "shared": register(tenant, actor, name="Firewall", kind="shared_admin", known_by=[LEAVER]),
        "service": register(tenant, actor, name="Backup svc", kind="service", owner_email=LEAVER),
        "unrelated": register(tenant, actor, name="Other shared", kind="shared_admin"),
    }


def test_a_leaver_checklist_is_completed_item_by_item_into_the_chain(tenant_a, personas):
    with tenant_context(tenant_a):
        accounts = _scenario(tenant_a, personas.engineer)
    engineer = session(personas.engineer)
    response = engineer.post(
        f"{BASE}leavers/", {"email": LEAVER, "name": "Alex Leaver", "left_on": "2026-01-15"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        checklist = OffboardingChecklist.objects.get()
        assert response.url.endswith(f"offboarding/{checklist.uuid}/")
        items = list(checklist.items.order_by("order"))
        planned = {(i.account_id, i.action) for i in items}
    assert planned == {
        (accounts["own"].pk, ItemAction.DISABLE_ACCOUNT),
        (accounts["shared"].pk, ItemAction.ROTATE_CREDENTIAL),
        (accounts["service"].pk, ItemAction.REVOKE_TOKENS),
        (None, ItemAction.REVOKE_TOKENS),
    }
    page = engineer.get(f"{BASE}offboarding/{checklist.uuid}/")
    assert page.status_code == 200 and len(page.context["items"]) == len(items)
    # A viewer reads it but cannot tick; a tick without a note changes nothing.
    viewer = session(personas.viewer_a)
    assert viewer.get(f"{BASE}offboarding/{checklist.uuid}/").status_code == 200
    tick = f"{BASE}offboarding/{checklist.uuid}/items/"
    assert viewer.post(f"{tick}{items[0].uuid}/", {"note": "x"}).status_code == 403
    engineer.post(f"{tick}{items[0].uuid}/", {"note": ""})
    with tenant_context(tenant_a):
        assert [e.kind for e in _offboarding_events(checklist)] == ["offboarding.started"]
    admin = session(personas.msp_admin)
    for n, item in enumerate(items):
        who = engineer if n % 2 == 0 else admin
        response = who.post(f"{tick}{item.uuid}/", {"note": f"done, ticket OFF-{n}"})
        assert response.status_code == 302
    with tenant_context(tenant_a):
        events = _offboarding_events(checklist)
        assert [e.kind for e in events] == [
            "offboarding.started",
            *["offboarding.item_done"] * len(items),
            "offboarding.completed",
        ]
        done = events[1:-1]
        assert [e.payload["action"] for e in done] == [i.action for i in items]
        assert [e.payload["done_by"] for e in done] == [
            (personas.engineer if n % 2 == 0 else personas.msp_admin).email
            for n in range(len(items))
        ]
        assert [e.payload["note"] for e in done] == [f"done, ticket OFF-{n}" for n in range(4)]
        checklist.refresh_from_db()
        assert checklist.state == ChecklistState.COMPLETED
        # The register tells the same story: the leaver's account disabled, the shared
        # credential they knew rotated.
        assert not PrivilegedAccount.objects.get(pk=accounts["own"].pk).is_active
        assert PrivilegedAccount.objects.get(pk=accounts["shared"].pk).last_rotated_on
        assert PrivilegedAccount.objects.get(pk=accounts["unrelated"].pk).last_rotated_on is None
    # Ticking again records nothing: the completion event stays single.
    engineer.post(f"{tick}{items[-1].uuid}/", {"note": "again"})
    with tenant_context(tenant_a):
        kinds = [e.kind for e in _offboarding_events(checklist)]
        assert kinds.count("offboarding.completed") == 1
        assert len(kinds) == len(items) + 2


def test_starting_twice_returns_the_open_checklist(tenant_a, personas):
    with tenant_context(tenant_a):
        _scenario(tenant_a, personas.engineer)
    engineer = session(personas.engineer)
    for _ in range(2):
        engineer.post(f"{BASE}leavers/", {"email": LEAVER, "left_on": "2026-01-15"})
    with tenant_context(tenant_a):
        assert OffboardingChecklist.objects.count() == 1
        assert EvidenceEvent.objects.filter(kind="offboarding.started").count() == 1


def test_bad_leaver_input_is_refused(tenant_a, personas):
    engineer = session(personas.engineer)
    for data in ({"email": "not-an-address", "left_on": "2026-01-15"}, {"email": LEAVER}):
        response = engineer.post(f"{BASE}leavers/", data, follow=True)
        assert response.status_code == 200
        assert [m.level_tag for m in response.context["messages"]] == ["error"]
    with tenant_context(tenant_a):
        assert not OffboardingChecklist.objects.exists()


def test_a_deactivated_client_user_gets_a_checklist(tenant_a, tenant_b, personas):
    leaver = User.objects.create_user(email="leaver@a.test", password="x" * 16)
    leaver.full_name = "Lee Leaver"
    leaver.save()
    add_membership(user=leaver, client=tenant_a, role=MembershipRole.CLIENT_VIEWER)
    with tenant_context(tenant_a):
        owned = register(tenant_a, personas.engineer, owner_user=leaver, owner_email="")
        shared = register(
            tenant_a, personas.engineer, name="Shared DA", kind="shared_admin",
            known_by=[leaver.email],
        )  # fmt: skip
    deactivate_user(user=leaver, actor=personas.msp_admin)
    with tenant_context(tenant_a):
        checklist = OffboardingChecklist.objects.get()
        assert (checklist.person_email, checklist.person_user_id) == (leaver.email, leaver.pk)
        assert checklist.source == ChecklistSource.DEACTIVATION
        assert checklist.person_name == "Lee Leaver"
        assert {(i.account_id, i.action) for i in checklist.items.all()} == {
            (owned.pk, ItemAction.DISABLE_ACCOUNT),
            (shared.pk, ItemAction.ROTATE_CREDENTIAL),
            (None, ItemAction.REVOKE_TOKENS),
        }
        deactivated = EvidenceEvent.objects.get(kind="person.deactivated")
        started = EvidenceEvent.objects.get(kind="offboarding.started")
        assert started.sequence == deactivated.sequence + 1
        assert started.payload["source"] == ChecklistSource.DEACTIVATION
    with tenant_context(tenant_b):
        assert not OffboardingChecklist.objects.exists()
