"""The role matrix: who sees which client, and what each role may do there."""

import pytest

from tenants.permissions import Capability as C
from tenants.permissions import capabilities_in, visible_clients

pytestmark = pytest.mark.django_db

# persona → (status of tenant A's page, status of tenant B's page)
PAGE_MATRIX = {
    "msp_admin": (200, 200),
    "engineer": (200, 200),
    "account_manager": (200, 404),  # manages A only
    "owner_a": (200, 404),
    "viewer_a": (200, 404),
    "owner_b": (404, 200),
    "nobody": (404, 404),
}


@pytest.mark.parametrize(("persona", "expected"), PAGE_MATRIX.items())
def test_client_pages_by_role(persona, expected, login, personas):
    http = login(getattr(personas, persona))
    got = (http.get("/clients/tenant-a/").status_code, http.get("/clients/tenant-b/").status_code)
    assert got == expected


def test_anonymous_is_sent_to_login(http):
    response = http.get("/clients/tenant-a/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


CAPABILITIES_IN_A = {
    "msp_admin": {C.VIEW, C.OPERATE, C.ADMINISTER, C.REPORTS, C.PEOPLE, C.AUDIT, C.RECIPIENTS},
    "engineer": {C.VIEW, C.OPERATE, C.REPORTS},
    "account_manager": {C.VIEW, C.REPORTS, C.RECIPIENTS},
    "owner_a": {C.VIEW, C.REPORTS, C.SIGN, C.PEOPLE, C.AUDIT},
    "viewer_a": {C.VIEW, C.REPORTS},
    "owner_b": set(),
    "nobody": set(),
}


@pytest.mark.parametrize(("persona", "expected"), CAPABILITIES_IN_A.items())
def test_capabilities_by_role(persona, expected, personas, tenant_a):
    assert set(capabilities_in(getattr(personas, persona), tenant_a)) == expected


def test_staff_never_sign_for_a_client(personas, tenant_a):
    for staff in (personas.msp_admin, personas.engineer, personas.account_manager):
        assert C.SIGN not in capabilities_in(staff, tenant_a)


@pytest.mark.parametrize(
    ("persona", "slugs"),
    [
        ("msp_admin", ["tenant-a", "tenant-b"]),
        ("engineer", ["tenant-a", "tenant-b"]),
        ("account_manager", ["tenant-a"]),
        ("owner_a", ["tenant-a"]),
        ("owner_b", ["tenant-b"]),
        ("nobody", []),
    ],
)
def test_visible_clients_and_api_client_list(persona, slugs, personas, login):
    user = getattr(personas, persona)
    assert sorted(visible_clients(user).values_list("slug", flat=True)) == slugs
    body = login(user).get("/api/v1/clients/").json()
    assert body["count"] == len(slugs)
    assert sorted(c["slug"] for c in body["results"]) == slugs


def test_public_schema_is_never_a_visible_client(personas):
    assert not visible_clients(personas.msp_admin).filter(schema_name="public").exists()


def test_engineer_home_lists_clients_and_owner_lands_in_own_client(login, personas):
    http = login(personas.engineer)
    page = http.get("/").content.decode()
    assert "Alpha Clinic" in page and "Bravo Logistics" in page
    http = login(personas.owner_a)
    response = http.get("/")
    assert response.status_code == 302 and response["Location"] == "/clients/tenant-a/"
