"""Every rings and integrations endpoint: 401 anonymous, 404 other client, 403 wrong scope."""

import pytest
from django_tenants.utils import tenant_context

from tenants.choices import TokenScope

pytestmark = pytest.mark.django_db

BASE = "/clients/tenant-a/api/v1/"
RESOURCES = ["rings/", "rollouts/", "maintenance-windows/", "runbook-checks/", "psa-tickets/"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_anonymous_is_401(http, resource, tenant_a):
    response = http.get(BASE + resource)
    assert response.status_code == 401 and "detail" in response.json()


@pytest.mark.parametrize("resource", RESOURCES)
def test_other_clients_owner_is_404(login, personas, resource):
    assert login(personas.owner_b).get(BASE + resource).status_code == 404


@pytest.mark.parametrize("resource", RESOURCES)
def test_agent_token_is_403_and_read_token_reads(make_token, api, tenant_a, resource):
    _, agent = make_token(TokenScope.AGENT, tenant_a, name="agent")
    assert api(agent).get(BASE + resource).status_code == 403
    _, read = make_token(TokenScope.READ, tenant_a, name="reader")
    response = api(read).get(BASE + resource)
    assert response.status_code == 200 and "count" in response.json()


@pytest.mark.parametrize("resource", RESOURCES)
def test_token_of_another_client_is_404(make_token, api, tenant_b, resource):
    _, other = make_token(TokenScope.READ, tenant_b, name="other")
    assert api(other).get(BASE + resource).status_code == 404


def test_api_token_cannot_approve(make_token, api, tenant_a, personas):
    from rings.services import assign_rings, create_rollout, evaluate_rollout
    from tests.producers import office

    with tenant_context(tenant_a):
        office()
        assign_rings()
        rollout = create_rollout(
            name="x",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        wave = rollout.waves.get(ring__key="canary")
    _, write = make_token(TokenScope.WRITE, tenant_a, name="writer")
    response = api(write).post(
        f"{BASE}rollouts/{rollout.uuid}/approve/",
        {"wave": str(wave.uuid)},
        content_type="application/json",
    )
    assert response.status_code == 403 and "people" in response.json()["detail"]


def test_admin_defines_a_runbook_check_with_evidence(login, personas, tenant_a):
    from evidence.models import EvidenceEvent

    http = login(personas.msp_admin)
    response = http.post(
        BASE + "runbook-checks/",
        {"name": "Lab interface", "description": "HL7 feed", "halts_on_failure": False},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["halts_on_failure"] is False
    duplicate = http.post(
        BASE + "runbook-checks/", {"name": "Lab interface"}, content_type="application/json"
    )
    assert duplicate.status_code == 400 and "name" in duplicate.json()
    with tenant_context(tenant_a):
        assert EvidenceEvent.objects.filter(kind="runbook.check_created").count() == 1
