"""POST /clients/<slug>/api/v1/discovery/: agent push."""

import json

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from inventory.models import Asset, DiscoveryRun
from tenants.choices import TokenScope

from .payloads import ubuntu_payload, windows_payload

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/discovery/"


@pytest.fixture
def agent(make_token, api, tenant_a):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a, name="clinic-agent")
    return api(plaintext)


def post(http, body, url=URL):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return http.post(url, data=data, content_type="application/json")


def test_discovery_push_ingests_a_batch(agent, tenant_a):
    response = post(agent, [windows_payload(), ubuntu_payload()])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["assets_created"] == 2 and body["software_added"] == 11
    with tenant_context(tenant_a):
        assert Asset.objects.count() == 2
        run = DiscoveryRun.objects.get()
        assert run.source == "agent" and run.source_name == "clinic-agent"
        assert str(run.uuid) == body["run"]


def test_discovery_push_is_idempotent(agent, tenant_a):
    post(agent, windows_payload())
    body = post(agent, windows_payload()).json()
    assert body["assets_created"] == 0 and body["software_added"] == 0
    with tenant_context(tenant_a):
        assert Asset.objects.count() == 1


def test_discovery_push_anonymous_is_401(http):
    assert post(http, windows_payload()).status_code == 401


def test_discovery_push_wrong_token_is_401(api):
    assert post(api("po_not-a-real-token"), windows_payload()).status_code == 401


def test_discovery_push_read_token_is_403(make_token, api, tenant_a):
    _, plaintext = make_token(TokenScope.WRITE, tenant_a)
    assert post(api(plaintext), windows_payload()).status_code == 403


def test_discovery_push_other_clients_agent_is_404(make_token, api, tenant_b):
    _, plaintext = make_token(TokenScope.AGENT, tenant_b)
    assert post(api(plaintext), windows_payload()).status_code == 404


def test_agent_token_may_only_push_discovery(agent):
    assert agent.get("/clients/tenant-a/api/v1/assets/").status_code == 403
    assert agent.get("/clients/tenant-a/api/v1/software/").status_code == 403
    assert agent.post("/clients/tenant-a/api/v1/snapshots/").status_code == 403
    assert agent.get(URL).status_code in (403, 405)


def test_discovery_push_malformed_json_is_400_and_writes_nothing(agent, tenant_a):
    response = post(agent, b'{"system_info": {"hostname": "x"')
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["errors"]["payload"][0]
    with tenant_context(tenant_a):
        assert not DiscoveryRun.objects.exists()


def test_discovery_push_wrong_types_are_field_errors(agent, tenant_a):
    bad = windows_payload()
    bad["pending_updates"][0]["severity"] = "apocalyptic"
    bad["system_info"]["hostname"] = ["list"]
    response = post(agent, [ubuntu_payload(), bad])
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "[1].pending_updates[0].severity" in errors
    assert "[1].system_info.hostname" in errors
    with tenant_context(tenant_a):
        assert not Asset.objects.exists()


@pytest.mark.parametrize("body", [b"42", b"[]", b'"text"', b"\xff\xfe garbage"])
def test_discovery_push_non_device_bodies_are_400(agent, body):
    response = post(agent, body)
    assert response.status_code == 400
    assert response.json()["detail"]


@override_settings(DISCOVERY_MAX_BYTES=2000)
def test_discovery_push_oversized_body_is_413(agent, tenant_a):
    response = post(agent, windows_payload(software_count=100))
    assert response.status_code == 413
    with tenant_context(tenant_a):
        assert not Asset.objects.exists()


def test_discovery_is_documented_with_an_example(http):
    schema = http.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/clients/{client_slug}/api/v1/discovery/"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    assert "system_info" in json.dumps(content["examples"])
    assert {"201", "400", "413"} <= set(operation["responses"])
