"""API tokens: hashed, shown once, scoped to a client or all, read / write / agent."""

import pytest
from django.core.management import CommandError, call_command

from tenants.choices import TokenScope
from tenants.models import ApiToken
from tenants.services import revoke_api_token

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_printed_once(capsys):
    call_command(
        "create_api_token", "--name", "psa-prod", "--client", "tenant-a", "--scope", "write"
    )
    plaintext = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(name="psa-prod")
    assert plaintext.startswith(f"po_{token.key_id}_")
    secret = plaintext.split("_", 2)[2]
    assert secret not in token.key_hash and token.matches(secret)
    assert token.client.slug == "tenant-a" and token.scope == TokenScope.WRITE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--client", "no-such", "--scope", "read"], "No client"),
        (["--name", "agent", "--all", "--scope", "agent"], "exactly one client"),
        (["--name", "bad\nname", "--all", "--scope", "read"], "token name"),
    ],
)
def test_create_api_token_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args)
    assert not ApiToken.objects.exists()


def test_create_api_token_rejects_unknown_scope():
    with pytest.raises(CommandError):
        call_command("create_api_token", "--name", "x", "--all", "--scope", "admin")


def test_read_token_for_all_clients_reads_every_client(api, make_token):
    _, plaintext = make_token(TokenScope.READ)
    http = api(plaintext)
    assert http.get("/clients/tenant-a/api/v1/client/").status_code == 200
    assert http.get("/clients/tenant-b/api/v1/client/").status_code == 200
    assert http.get("/api/v1/clients/").json()["count"] == 2


def test_wrong_scope_is_403(api, make_token, tenant_a):
    _, agent = make_token(TokenScope.AGENT, tenant_a)
    assert api(agent).get("/clients/tenant-a/api/v1/client/").status_code == 403
    assert api(agent).get("/api/v1/clients/").status_code == 403
    _, read = make_token(TokenScope.READ, tenant_a)
    response = api(read).post(
        "/clients/tenant-a/api/v1/client/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "detail" in response.json()


def test_token_for_other_client_is_404(api, make_token, tenant_b):
    _, plaintext = make_token(TokenScope.WRITE, tenant_b)
    assert api(plaintext).get("/clients/tenant-a/api/v1/client/").status_code == 404


def test_revoked_token_is_401(api, make_token, tenant_a):
    token, plaintext = make_token(TokenScope.READ, tenant_a)
    assert revoke_api_token(token=token) is True
    assert revoke_api_token(token=token) is False
    response = api(plaintext).get("/clients/tenant-a/api/v1/client/")
    assert response.status_code == 401
    assert response.json()["detail"] == "This token has been revoked."
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer po_abc_def", "Bearer a b"])
def test_invalid_token_is_401(http, header):
    response = http.get("/api/v1/clients/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_anonymous_api_is_401_json(http):
    response = http.get("/clients/tenant-a/api/v1/client/")
    assert response.status_code == 401
    assert response.json()["detail"]
