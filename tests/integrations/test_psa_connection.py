"""The client's PSA connection on its page and in the API: engineers and MSP admins edit it,
secrets never come back in full, a secret left empty keeps its value, bad input changes nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from integrations.models import PsaConnection

pytestmark = pytest.mark.django_db

API = "/clients/tenant-a/api/v1/psa-connections/"
PAGE = "/clients/tenant-a/integrations/psa/"
PRIVATE = "private-key-0123456789"


def body(**extra):
    return {
        "name": "ConnectWise",
        "kind": "connectwise",
        "base_url": "https://na.myconnectwise.net/v4_6_release/apis/3.0",
        "login_company": "acme",
        "api_user": "public-key",
        "api_secret": PRIVATE,
        "app_id": "client-id",
        "company_ref": "19298",
        "board_ref": "30",
        "closed_status_ref": "562",
        "priority_map": {"critical": "1", "high": "2"},
        "status_map": {"562": "closed", "1": "open"},
        "webhook_secret": "signing-key-abcdef",
        **extra,
    }


def test_api_keeps_secrets_to_itself(tenant_a, login, personas):
    engineer = login(personas.engineer)
    created = engineer.post(API, body(), content_type="application/json")
    assert created.status_code == 201, created.content
    answer = created.json()
    assert "api_secret" not in answer and "webhook_secret" not in answer
    assert PRIVATE not in created.content.decode()
    assert answer["api_secret_hint"].endswith(PRIVATE[-4:])
    url = f"{API}{answer['id']}/"
    changed = engineer.patch(url, {"board_ref": "31"}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    with tenant_context(tenant_a):
        conn = PsaConnection.objects.get()
        assert conn.api_secret == PRIVATE and conn.board_ref == "31"
        assert EvidenceEvent.objects.filter(kind="psa_connection.saved").count() == 2
    listed = engineer.get(API).content.decode()
    assert PRIVATE not in listed and "signing-key-abcdef" not in listed


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "servicenow"},
        {"status_map": {"562": "finished"}},
        {"priority_map": {"urgent": "1"}},
        {"company_ref": ""},
        {"app_id": ""},
    ],
)
def test_api_refuses_bad_connections(tenant_a, login, personas, bad):
    answer = login(personas.engineer).post(API, body(**bad), content_type="application/json")
    assert answer.status_code == 400, answer.content
    with tenant_context(tenant_a):
        assert not PsaConnection.objects.exists()


def test_viewers_and_read_tokens_may_not_see_it(tenant_a, login, personas):
    assert login(personas.viewer_a).get(API).status_code == 403
    assert login(personas.account_manager).get(PAGE).status_code == 403


def test_page_saves_and_masks(tenant_a, login, personas):
    admin = login(personas.msp_admin)
    form = body(priority_map='{"critical": "1"}', status_map='{"562": "closed"}', max_attempts=5)
    form["overdue_min_severity"] = "high"
    saved = admin.post(PAGE, form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    page = admin.get(PAGE).content.decode()
    assert PRIVATE not in page and PRIVATE[-4:] in page
    with tenant_context(tenant_a):
        conn = PsaConnection.objects.get()
        assert conn.overdue_min_severity == "high" and conn.priority_map == {"critical": "1"}
        assert f"/api/v1/psa-connections/{conn.uuid}/inbound/" in page
    form.update(api_secret="", webhook_secret="", board_ref="44")
    assert admin.post(PAGE, form).status_code == 302
    with tenant_context(tenant_a):
        conn.refresh_from_db()
        assert conn.api_secret == PRIVATE and conn.board_ref == "44"
    refused = admin.post(PAGE, {**form, "company_ref": "", "board_ref": "99"})
    assert refused.status_code == 400
    with tenant_context(tenant_a):
        conn.refresh_from_db()
        assert conn.board_ref == "44"
