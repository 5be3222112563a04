"""A client's data can never be read from another client: ORM, pages, API and cache."""

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from inventory.models import Site
from tenants.choices import TokenScope

pytestmark = pytest.mark.django_db


def test_orm_rows_of_one_client_are_invisible_in_another_schema(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Site.objects.create(name="Main clinic")
        assert Site.objects.count() == 1
    with tenant_context(tenant_b):
        assert Site.objects.count() == 0
        assert not Site.objects.filter(name="Main clinic").exists()


def test_cache_entries_are_keyed_per_client(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        cache.set("isolation-probe", "alpha", 30)
    with tenant_context(tenant_b):
        assert cache.get("isolation-probe") is None
    with tenant_context(tenant_a):
        assert cache.get("isolation-probe") == "alpha"
        cache.delete("isolation-probe")


def test_client_owner_gets_404_for_another_clients_page(login, personas):
    http = login(personas.owner_a)
    assert http.get("/clients/tenant-a/").status_code == 200
    assert http.get("/clients/tenant-b/").status_code == 404


def test_unknown_client_slug_is_404_not_public(login, personas):
    http = login(personas.engineer)
    assert http.get("/clients/no-such-client/").status_code == 404
    assert http.get("/clients/public/").status_code == 404
    assert http.get("/clients/no-such-client/api/v1/client/").status_code == 404
    assert http.get("/clients/no-such-client/api/v1/client/").json() == {"detail": "Not found."}


def test_api_for_another_client_is_404(api, make_token, tenant_a, personas, login):
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    http = api(plaintext)
    assert http.get("/clients/tenant-a/api/v1/client/").json()["slug"] == "tenant-a"
    response = http.get("/clients/tenant-b/api/v1/client/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_session_api_for_another_client_is_404(login, personas):
    http = login(personas.owner_b)
    assert http.get("/clients/tenant-b/api/v1/client/").status_code == 200
    assert http.get("/clients/tenant-a/api/v1/client/").status_code == 404


def test_404_page_does_not_reveal_the_other_clients_name(login, personas):
    page = login(personas.owner_a).get("/clients/tenant-b/").content.decode()
    assert "Bravo" not in page and "tenant-b" not in page
