"""Cross-client API plumbing: schema, docs, pagination, brief, JSON errors, health."""

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_documents_public_and_client_endpoints(http):
    response = http.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/clients/" in schema["paths"]
    assert "/clients/{client_slug}/api/v1/client/" in schema["paths"]


def test_schema_generates_without_warnings(capsys):
    from django.core.management import call_command

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        "patchops.urls_schema",
        "--file",
        "/dev/null",
    )


def test_api_docs_use_local_assets_only(http):
    page = http.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page


def test_client_list_is_paginated_and_filterable(login, personas):
    http = login(personas.engineer)
    body = http.get("/api/v1/clients/?limit=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    body = http.get("/api/v1/clients/?is_hipaa=true").json()
    assert [c["slug"] for c in body["results"]] == ["tenant-a"]
    body = http.get("/api/v1/clients/?search=bravo").json()
    assert [c["slug"] for c in body["results"]] == ["tenant-b"]


def test_brief_returns_exactly_the_brief_fields(login, personas):
    body = login(personas.engineer).get("/api/v1/clients/?brief=true").json()
    assert set(body["results"][0]) == {"id", "slug", "name"}


def test_bad_filter_value_is_a_json_400(login, personas):
    response = login(personas.engineer).get("/api/v1/clients/?created_after=yesterday")
    assert response.status_code == 400
    assert "created_after" in response.json()


def test_health_checks_database_and_redis(http):
    response = http.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
