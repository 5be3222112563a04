"""/clients/<slug>/api/v1/exceptions/: list, detail, create; never sign."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from tenants.choices import TokenScope
from tests.exceptions_register.factories import make_active, make_exception
from tests.producers import reported_asset, reported_finding

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/exceptions/"
FIELDS = {
    "id",
    "kind",
    "state",
    "assets",
    "findings",
    "reason",
    "ticket_reference",
    "expires_at",
    "compensating_controls",
    "requested_by",
    "approver",
    "signed_at",
}


def _payload(**overrides):
    data = {
        "kind": "deferral",
        "findings": [],
        "assets": [],
        "reason": "Vendor certification pending.",
        "ticket_reference": "PSA-API-1",
        "expires_at": (timezone.now() + timedelta(days=30)).isoformat(),
        "approver": "owner@a.test",
        "compensating_controls": [{"kind": "extra_monitoring", "description": "EDR review."}],
    }
    data.update(overrides)
    return data


def _write_client(make_token, api, tenant_a):
    _, plaintext = make_token(TokenScope.WRITE, tenant_a)
    return api(plaintext)


def test_anonymous_gets_401(tenant_a, http):
    assert http.get(URL).status_code == 401
    assert http.post(URL, _payload(), content_type="application/json").status_code == 401


def test_read_token_cannot_create(tenant_a, make_token, api):
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    response = api(plaintext).post(URL, _payload(), content_type="application/json")
    assert response.status_code == 403


def test_agent_token_cannot_read(tenant_a, make_token, api):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    assert api(plaintext).get(URL).status_code == 403


def test_other_clients_token_gets_404(tenant_a, tenant_b, make_token, api):
    _, plaintext = make_token(TokenScope.READ, tenant_b)
    assert api(plaintext).get(URL).status_code == 404


def test_other_clients_exception_is_404_here(tenant_a, tenant_b, personas, make_token, api):
    with tenant_context(tenant_b):
        other = make_exception(client=tenant_b, approver=personas.owner_b)
    _, plaintext = make_token(TokenScope.READ, None)
    assert api(plaintext).get(f"{URL}{other.uuid}/").status_code == 404


def test_list_and_detail_use_the_contract_field_names(tenant_a, personas, make_token, api):
    with tenant_context(tenant_a):
        finding = reported_finding()
        exception = make_active(
            client=tenant_a, approver=personas.owner_a, findings=[finding], assets=[]
        )
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    http = api(plaintext)
    listing = http.get(URL).json()
    assert listing["count"] == 1
    item = listing["results"][0]
    assert set(item) >= FIELDS
    assert item["id"] == str(exception.uuid)
    assert item["findings"] == [str(finding.uuid)]
    assert item["state"] == "active"
    assert item["approver"] == "owner@a.test"
    assert item["signed_at"] is not None
    assert item["compensating_controls"] == [
        {"kind": "extra_monitoring", "description": "EDR alerts reviewed daily."}
    ]
    assert http.get(f"{URL}{exception.uuid}/").json()["id"] == str(exception.uuid)
    brief = http.get(URL, {"brief": "true"}).json()["results"][0]
    assert set(brief) == {"id", "kind", "state", "ticket_reference", "expires_at"}


def test_create_with_write_token_awaits_signature(tenant_a, personas, make_token, api):
    with tenant_context(tenant_a):
        asset = reported_asset(asset_class="do_not_disrupt")
    http = _write_client(make_token, api, tenant_a)
    response = http.post(
        URL,
        _payload(kind="isolated_lane", assets=[str(asset.uuid)]),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "pending_signoff"
    assert body["signed_at"] is None
    assert body["requested_by"] == "token:test"
    assert body["assets"] == [str(asset.uuid)]
    with tenant_context(tenant_a):
        assert RiskException.objects.get(uuid=body["id"]).approver == personas.owner_a


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"ticket_reference": ""}, "ticket_reference"),
        ({"expires_at": None}, "expires_at"),
        ({"approver": "viewer@a.test"}, "approver"),
        ({"approver": "nobody-here@example.test"}, "approver"),
        ({"approver": ""}, "approver"),
        ({"kind": "forever"}, "kind"),
        ({"expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
        ({"kind": "isolated_lane", "compensating_controls": []}, "compensating_controls"),
        ({"assets": ["not-a-uuid"]}, "assets"),
        ({"findings": ["6a1e7f4e-0000-4000-8000-000000000000"]}, "findings"),
        (
            {"compensating_controls": [{"kind": "prayer", "description": "x"}]},
            "compensating_controls",
        ),
    ],
)
def test_invalid_create_is_400_with_field_errors(tenant_a, make_token, api, override, field):
    with tenant_context(tenant_a):
        asset = reported_asset()
    http = _write_client(make_token, api, tenant_a)
    payload = _payload(**({"assets": [str(asset.uuid)]} | override))
    response = http.post(URL, payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    with tenant_context(tenant_a):
        assert RiskException.objects.count() == 0


def test_filters_state_kind_and_expiring_before(tenant_a, personas, make_token, api):
    with tenant_context(tenant_a):
        soon = make_active(
            client=tenant_a,
            approver=personas.owner_a,
            expires_at=timezone.now() + timedelta(days=5),
        )
        pending = make_exception(client=tenant_a, approver=personas.owner_a)
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    http = api(plaintext)

    def ids(**params):
        return {r["id"] for r in http.get(URL, params).json()["results"]}

    assert ids(state="active") == {str(soon.uuid)}
    assert ids(state="pending_signoff") == {str(pending.uuid)}
    assert ids(kind="isolated_lane") == set()
    before = (timezone.now() + timedelta(days=10)).isoformat()
    assert ids(expiring_before=before) == {str(soon.uuid)}
    assert http.get(URL, {"state": "bogus"}).status_code == 400


def test_there_is_no_way_to_sign_through_the_api(tenant_a, personas, make_token, api):
    with tenant_context(tenant_a):
        exception = make_exception(client=tenant_a, approver=personas.owner_a)
    http = _write_client(make_token, api, tenant_a)
    assert http.post(f"{URL}{exception.uuid}/sign/", {}).status_code == 404
    for method in ("put", "patch", "delete"):
        response = getattr(http, method)(
            f"{URL}{exception.uuid}/", {"state": "active"}, content_type="application/json"
        )
        assert response.status_code == 405
    with tenant_context(tenant_a):
        assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.PENDING_SIGNOFF


def test_session_owner_may_read_but_not_create(tenant_a, personas, login):
    http = login(personas.owner_a)
    assert http.get(URL).status_code == 200
    assert http.post(URL, _payload(), content_type="application/json").status_code == 403
