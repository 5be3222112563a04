"""The client-owner portal: owners sign with their password and their passkey; viewers read;
staff cannot sign. (Second factors at signing in detail: test_signing_factors.py.)"""

import json

import pytest
from django_tenants.utils import tenant_context

from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from tests.conftest import PASSWORD
from tests.exceptions_register.factories import authenticator_for, make_exception, page_options

pytestmark = pytest.mark.django_db
PORTAL = "/clients/tenant-a/portal/exceptions/"


def _decide(http, exception, **data):
    payload = {
        "decision": "sign",
        "password": PASSWORD,
        "text_sha256": exception.canonical_sha256(),
    }
    payload.update(data)
    if payload["decision"] == "sign" and "passkey_assertion" not in payload:
        # The owner's browser: the page's options, answered by the owner's passkey.
        device = authenticator_for(exception.approver)
        options = page_options(http, f"{PORTAL}{exception.uuid}/")
        if options is not None:
            payload["passkey_assertion"] = json.dumps(device.get(options))
    return http.post(
        f"{PORTAL}{exception.uuid}/",
        payload,
        HTTP_USER_AGENT="Firefox/128",
        REMOTE_ADDR="192.0.2.9",
    )


def test_owner_sees_what_awaits_them_and_the_full_text(in_tenant_a, personas, login):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    http = login(personas.owner_a)
    listing = http.get(PORTAL).content.decode()
    assert exception.ticket_reference in listing
    body = http.get(f"{PORTAL}{exception.uuid}/").content.decode()
    assert exception.canonical_sha256() in body
    assert "EDR alerts reviewed daily." in body
    # An owner signs in with a second factor (an authenticator app here): without a passkey
    # the page offers the app's code and no passkey button.
    assert 'id="id_totp_code"' in body and 'data-testid="sign-passkey"' not in body
    assert 'data-testid="no-factor"' not in body
    authenticator_for(personas.owner_a)
    body = http.get(f"{PORTAL}{exception.uuid}/").content.decode()
    assert 'data-testid="sign-passkey"' in body and 'id="passkey-options"' in body


def test_owner_signs_with_password_and_passkey(in_tenant_a, personas, login):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    response = _decide(login(personas.owner_a), exception)
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.state == ExceptionState.ACTIVE
    assert exception.signature.ip_address == "192.0.2.9"
    assert exception.signature.user_agent == "Firefox/128"


def test_wrong_password_is_refused_with_a_message(in_tenant_a, personas, login):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    response = _decide(login(personas.owner_a), exception, password="guess")
    assert response.status_code == 400
    assert "password is not correct" in response.content.decode()
    assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.PENDING_SIGNOFF


def test_owner_rejects_with_a_reason(in_tenant_a, personas, login):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    http = login(personas.owner_a)
    assert _decide(http, exception, decision="reject").status_code == 400
    response = _decide(http, exception, decision="reject", reason="Patch it now.")
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.state == ExceptionState.REJECTED
    assert exception.signature.rejection_reason == "Patch it now."


def test_viewer_reads_but_has_no_buttons_and_cannot_post(in_tenant_a, personas, login):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    http = login(personas.viewer_a)
    body = http.get(f"{PORTAL}{exception.uuid}/").content.decode()
    assert exception.ticket_reference in body
    assert 'data-testid="sign' not in body and '<form method="post" data-testid' not in body
    assert _decide(http, exception).status_code == 403
    assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.PENDING_SIGNOFF


@pytest.mark.parametrize("who", ["msp_admin", "engineer", "account_manager"])
def test_staff_cannot_sign_on_the_clients_behalf(in_tenant_a, personas, login, who):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    http = login(getattr(personas, who))
    assert 'data-testid="sign' not in http.get(f"{PORTAL}{exception.uuid}/").content.decode()
    assert _decide(http, exception).status_code == 403
    assert RiskException.objects.get(pk=exception.pk).state == ExceptionState.PENDING_SIGNOFF


def test_owner_of_a_gets_404_for_client_bs_exception(tenant_a, tenant_b, personas, login):
    with tenant_context(tenant_b):
        other = make_exception(client=tenant_b, approver=personas.owner_b)
    http = login(personas.owner_a)
    assert http.get(f"/clients/tenant-b/portal/exceptions/{other.uuid}/").status_code == 404
    assert http.get(f"/clients/tenant-b/exceptions/{other.uuid}/").status_code == 404
    # The same id under the owner's own client does not exist there either.
    assert http.get(f"{PORTAL}{other.uuid}/").status_code == 404
    response = http.post(
        f"/clients/tenant-b/portal/exceptions/{other.uuid}/",
        {"decision": "sign", "password": PASSWORD, "text_sha256": "0" * 64},
    )
    assert response.status_code == 404
    with tenant_context(tenant_b):
        assert RiskException.objects.get(pk=other.pk).state == ExceptionState.PENDING_SIGNOFF


def test_drafts_are_not_shown_in_the_portal(in_tenant_a, personas, login):
    draft = make_exception(client=in_tenant_a, approver=personas.owner_a, submit=False)
    assert login(personas.owner_a).get(f"{PORTAL}{draft.uuid}/").status_code == 404
