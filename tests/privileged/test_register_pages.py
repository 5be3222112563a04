"""The register's pages: create, edit, refuse secrets and bad input, read-only for viewers."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from privileged.models import PrivilegedAccount
from tests.privileged.helpers import BASE, register, session
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db


def _form(**overrides):
    data = {
        "kind": "shared_admin",
        "name": "Firewall admin",
        "identifier": "fw-admin",
        "held_by": "client",
        "owner_name": "Robin Ops",
        "owner_email": "robin@client.test",
        "known_by": "alex@client.test\nsam@client.test",
        "mfa_state": "not_possible",
        "mfa_reason": "The firewall's local console has no second factor.",
        "last_rotated_on": (timezone.localdate() - timedelta(days=10)).isoformat(),
        "last_reviewed_on": "",
        "rotation_interval_days": "",
        "review_interval_days": "",
        "notes": "",
    }
    data.update(overrides)
    return data


def _events(kind):
    return list(EvidenceEvent.objects.filter(kind=kind).order_by("sequence"))


def test_engineer_registers_and_edits_an_account_through_the_pages(tenant_a, personas):
    with tenant_context(tenant_a):
        fw, core = reported_asset("fw-01"), reported_asset("core-sw")
    engineer = session(personas.engineer)
    assert engineer.get(f"{BASE}new/").status_code == 200
    response = engineer.post(f"{BASE}new/", _form(systems=[fw.pk, core.pk]))
    assert response.status_code == 302
    with tenant_context(tenant_a):
        account = PrivilegedAccount.objects.get()
        assert response.url.endswith(f"{account.uuid}/")
        assert set(account.systems.all()) == {fw, core}
        assert account.known_by == ["alex@client.test", "sam@client.test"]
        # Shared admin defaults: the kind's intervals.
        assert (account.rotation_interval_days, account.review_interval_days) == (90, 90)
        [created] = _events("privileged_account.created")
        assert created.payload["systems"] == sorted([str(fw.uuid), str(core.uuid)])
        assert created.actor == personas.engineer.email
    detail = engineer.get(f"{BASE}{account.uuid}/")
    assert detail.status_code == 200 and b"fw-01" in detail.content
    response = engineer.post(
        f"{BASE}{account.uuid}/edit/", _form(systems=[fw.pk], mfa_state="enforced", mfa_reason="")
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        account.refresh_from_db()
        assert list(account.systems.all()) == [fw] and account.mfa_state == "enforced"
        [changed] = _events("privileged_account.changed")
        assert changed.payload["changed"] == ["mfa_reason", "mfa_state", "systems"]
        assert changed.payload["after"]["systems"] == [str(fw.uuid)]
    listing = engineer.get(BASE)
    assert listing.status_code == 200
    assert listing.context["counts"].mfa_covered == 1
    history = engineer.get(f"{BASE}{account.uuid}/").context["history"]
    assert [e.kind for e in history] == ["privileged_account.changed", "privileged_account.created"]


@pytest.mark.parametrize("secret", ["password", "admin_password", "Secret", "api-key"])
def test_a_form_with_a_secret_field_is_refused_and_nothing_saved(tenant_a, personas, secret):
    engineer = session(personas.engineer)
    response = engineer.post(f"{BASE}new/", _form(**{secret: "hunter2"}))
    assert response.status_code == 400
    assert "never stores secrets" in " ".join(response.context["form"].non_field_errors())
    with tenant_context(tenant_a):
        assert not PrivilegedAccount.objects.exists()
        assert not _events("privileged_account.created")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("last_rotated_on", "2026-13-45", "valid date"),
        ("last_reviewed_on", "yesterday", "valid date"),
        ("last_rotated_on", "FUTURE", "future"),
        ("systems", "999999", "is no system of this client"),
        ("mfa_reason", "", "why a second factor is not possible"),
        ("owner_email", "", "owner's e-mail"),
    ],
)
def test_bad_input_on_the_form_is_a_clear_error(tenant_a, personas, field, value, message):
    if value == "FUTURE":
        value = (timezone.localdate() + timedelta(days=3)).isoformat()
    engineer = session(personas.engineer)
    response = engineer.post(f"{BASE}new/", _form(**{field: value}))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, [])), errors
    with tenant_context(tenant_a):
        assert not PrivilegedAccount.objects.exists()


def test_owners_and_viewers_read_but_cannot_change(tenant_a, personas):
    with tenant_context(tenant_a):
        account = register(tenant_a, personas.engineer)
    for user in (personas.viewer_a, personas.owner_a):
        http = session(user)
        listing = http.get(BASE)
        assert listing.status_code == 200 and account.name.encode() in listing.content
        assert b'href="new/"' not in listing.content
        assert http.get(f"{BASE}{account.uuid}/").status_code == 200
        assert http.get(f"{BASE}new/").status_code == 403
        assert http.post(f"{BASE}new/", _form()).status_code == 403
        assert http.post(f"{BASE}{account.uuid}/edit/", _form()).status_code == 403
        assert http.post(f"{BASE}{account.uuid}/disable/", {"reason": "x"}).status_code == 403
        assert http.post(f"{BASE}leavers/", {"email": "x@client.test"}).status_code == 403
    with tenant_context(tenant_a):
        account.refresh_from_db()
        assert account.is_active and PrivilegedAccount.objects.count() == 1


def test_another_client_cannot_see_the_register(tenant_a, personas):
    with tenant_context(tenant_a):
        account = register(tenant_a, personas.engineer)
    other = session(personas.owner_b)
    assert other.get(BASE).status_code == 404
    assert other.get(f"{BASE}{account.uuid}/").status_code == 404


def test_mfa_coverage_counts_the_clients_own_staff_accounts(tenant_a, personas):
    with tenant_context(tenant_a):
        register(tenant_a, personas.engineer, name="Client DA", held_by="client")
        register(
            tenant_a, personas.engineer, name="Client svc", held_by="client",
            kind="service", mfa_state="not_enforced",
        )  # fmt: skip
        register(tenant_a, personas.engineer, name="MSP tech", held_by="msp")
    response = session(personas.viewer_a).get(BASE)
    counts = response.context["counts"]
    assert (counts.active, counts.mfa_covered) == (3, 2)
    assert (counts.client_staff_active, counts.client_staff_mfa_covered) == (2, 1)
    rows = {a.name: a.mfa_covered for a in response.context["accounts"]}
    assert rows == {"Client DA": True, "Client svc": False, "MSP tech": True}
