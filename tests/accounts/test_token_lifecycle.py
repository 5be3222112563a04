"""Tokens that stay revoked: issued, listed and revoked by command and on the client's tokens
page, each audited with who did it (and in the client's evidence); a token's client, scope and
owner never change, and a revoked token never works again — not after an attempted un-revoke
in the admin, through the ORM or in the database."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent
from evidence.models import EvidenceEvent
from tenants.choices import TokenScope
from tenants.models import ApiToken

pytestmark = pytest.mark.django_db

CLIENT_API = "/clients/tenant-a/api/v1/client/"


def issue(capsys, *args: str) -> tuple[ApiToken, str]:
    call_command("tokens", "create", *args)
    plaintext = capsys.readouterr().out.strip()
    return ApiToken.objects.get(key_id=plaintext.split("_")[1]), plaintext


def client_events(client, kind: str) -> list[EvidenceEvent]:
    with tenant_context(client):
        return list(EvidenceEvent.objects.filter(kind=kind).order_by("sequence"))


def test_tokens_create_list_revoke_by_command_audited_with_who(capsys, api, personas, tenant_a):
    token, plaintext = issue(
        capsys,
        "--name",
        "psa-prod",
        "--client",
        "tenant-a",
        "--scope",
        "read",
        "--by",
        personas.msp_admin.email,
    )
    assert token.created_by == personas.msp_admin and token.client == tenant_a
    assert api(plaintext).get(CLIENT_API).status_code == 200

    call_command("tokens", "list", "--client", "tenant-a")
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if token.key_id in line)
    assert "psa-prod" in row and personas.msp_admin.email in row and "UTC" in row
    assert "never" not in row  # used once above: its last use is listed

    call_command("tokens", "revoke", token.key_id)
    assert "revoked" in capsys.readouterr().out
    assert api(plaintext).get(CLIENT_API).status_code == 401

    created = AuditEvent.objects.get(kind="token.created", detail__token=str(token.uuid))
    revoked = AuditEvent.objects.get(kind="token.revoked", detail__token=str(token.uuid))
    assert created.actor == personas.msp_admin and created.client == tenant_a
    assert revoked.actor is None and revoked.actor_label.startswith("manage.py (")
    events = client_events(tenant_a, "api_token.created") + client_events(
        tenant_a, "api_token.revoked"
    )
    assert [(e.kind, e.payload["key_id"], e.payload["by"]) for e in events] == [
        ("api_token.created", token.key_id, personas.msp_admin.email),
        ("api_token.revoked", token.key_id, revoked.actor_label),
    ]


def test_the_old_create_command_is_audited_too(capsys):
    call_command("create_api_token", "--name", "rmm", "--all", "--scope", "write")
    token = ApiToken.objects.get(name="rmm")
    event = AuditEvent.objects.get(kind="token.created")
    assert event.detail["token"] == str(token.uuid) and event.detail["all_clients"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["revoke", "nosuchkey"], "No token"),
        (["create", "--name", "x", "--all", "--scope", "read", "--by", "nobody@x.test"], "--by"),
        (["list", "--client", "no-such"], "No client"),
        (["create", "--name", "x", "--client", "no-such", "--scope", "read"], "No client"),
    ],
)
def test_tokens_command_bad_input_changes_nothing(args, message, personas):
    with pytest.raises(CommandError, match=message):
        call_command("tokens", *args)
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(kind__startswith="token.").exists()


def test_revoking_twice_is_refused_and_recorded_once(capsys, make_token, tenant_a):
    token, _ = make_token(TokenScope.READ, tenant_a)
    call_command("tokens", "revoke", str(token.uuid))
    with pytest.raises(CommandError, match="already revoked"):
        call_command("tokens", "revoke", token.key_id)
    assert AuditEvent.objects.filter(kind="token.revoked").count() == 1


def test_the_tokens_page_issues_once_lists_and_revokes(login, personas, tenant_a, api):
    admin = login(personas.msp_admin)
    page = admin.get("/clients/tenant-a/tokens/")
    assert page.status_code == 200 and "No tokens for" in page.content.decode()

    response = admin.post(
        "/clients/tenant-a/tokens/", {"action": "create", "name": "rmm-agent", "scope": "agent"}
    )
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    plaintext = response.context["issued"].plaintext
    assert plaintext in response.content.decode()
    token = ApiToken.objects.get(name="rmm-agent")
    assert token.created_by == personas.msp_admin and token.scope == TokenScope.AGENT
    assert plaintext not in admin.get("/clients/tenant-a/tokens/").content.decode()

    response = admin.post(
        "/clients/tenant-a/tokens/", {"action": "revoke", "token": str(token.uuid)}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.is_revoked
    agent = api(plaintext)
    assert (
        agent.post(
            "/clients/tenant-a/api/v1/discovery/", "{}", content_type="application/json"
        ).status_code
        == 401
    )
    kinds = AuditEvent.objects.filter(actor=personas.msp_admin, client=tenant_a).values_list(
        "kind", flat=True
    )
    assert sorted(kinds) == ["token.created", "token.revoked"]
    assert [e.payload["by"] for e in client_events(tenant_a, "api_token.revoked")] == [
        personas.msp_admin.email
    ]


def test_the_tokens_page_bad_input_and_other_clients_tokens(login, personas, make_token, tenant_b):
    admin = login(personas.msp_admin)
    response = admin.post(
        "/clients/tenant-a/tokens/", {"action": "create", "name": "", "scope": "x"}
    )
    assert response.status_code == 400
    response = admin.post(
        "/clients/tenant-a/tokens/", {"action": "create", "name": "bad\nname", "scope": "read"}
    )
    assert response.status_code == 400 and "token name" in response.content.decode()
    other, _ = make_token(TokenScope.READ, tenant_b)
    response = admin.post(
        "/clients/tenant-a/tokens/", {"action": "revoke", "token": str(other.uuid)}
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert not other.is_revoked and not ApiToken.objects.filter(client__slug="tenant-a").exists()


@pytest.mark.parametrize("persona", ["engineer", "owner_a", "viewer_a", "account_manager"])
def test_only_msp_admins_reach_the_tokens_page(persona, login, personas):
    http = login(getattr(personas, persona))
    assert http.get("/clients/tenant-a/tokens/").status_code in (403, 404)
    response = http.post(
        "/clients/tenant-a/tokens/", {"action": "create", "name": "x", "scope": "read"}
    )
    assert response.status_code in (403, 404)
    assert not ApiToken.objects.exists()


def test_admin_change_form_cannot_unrevoke_or_move_a_token(
    login, personas, make_token, tenant_a, tenant_b, api
):
    token, plaintext = make_token(TokenScope.WRITE, tenant_a)
    call_command("tokens", "revoke", token.key_id)
    revoked_at = ApiToken.objects.get(pk=token.pk).revoked_at
    admin = login(personas.msp_admin)
    url = f"/admin/tenants/apitoken/{token.pk}/change/"
    assert admin.get(url).status_code == 200  # read here
    response = admin.post(
        url,
        {
            "name": token.name,
            "client": tenant_b.pk,
            "scope": TokenScope.WRITE,
            "revoked_at_0": "",
            "revoked_at_1": "",
        },
    )
    assert response.status_code == 403
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.client == tenant_a and stored.revoked_at == revoked_at
    assert admin.get("/admin/tenants/apitoken/add/").status_code == 403
    assert api(plaintext).get(CLIENT_API).status_code == 401


def test_the_admin_revoke_action_is_audited(login, personas, make_token, tenant_a, api):
    token, plaintext = make_token(TokenScope.READ, tenant_a)
    admin = login(personas.msp_admin)
    response = admin.post(
        "/admin/tenants/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(kind="token.revoked").actor == personas.msp_admin
    assert api(plaintext).get(CLIENT_API).status_code == 401


def test_the_orm_refuses_unrevoking_or_moving_a_token(
    make_token, tenant_a, tenant_b, personas, api
):
    token, plaintext = make_token(TokenScope.READ, tenant_a)
    call_command("tokens", "revoke", token.key_id)
    token.refresh_from_db()
    token.revoked_at = None
    with pytest.raises(ValidationError, match="stays revoked"):
        token.save()
    with pytest.raises(ValidationError, match="stays revoked"):
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
    live, _ = make_token(TokenScope.READ, tenant_a)
    for change in (
        {"client": tenant_b},
        {"scope": TokenScope.WRITE},
        {"created_by": personas.msp_admin},
    ):
        with pytest.raises(ValidationError, match="cannot change"):
            ApiToken.objects.filter(pk=live.pk).update(**change)
        fresh = ApiToken.objects.get(pk=live.pk)
        for field, value in change.items():
            setattr(fresh, field, value)
        with pytest.raises(ValidationError, match="cannot change"):
            fresh.save()
    live.refresh_from_db()
    assert live.client == tenant_a and live.scope == TokenScope.READ and live.created_by is None
    assert api(plaintext).get(CLIENT_API).status_code == 401


def test_the_database_refuses_unrevoking_or_moving_a_token(make_token, tenant_a, tenant_b, api):
    token, plaintext = make_token(TokenScope.READ, tenant_a)
    call_command("tokens", "revoke", token.key_id)
    for sql, params in (
        ("UPDATE tenants_apitoken SET revoked_at = NULL WHERE id = %s", [token.pk]),
        ("UPDATE tenants_apitoken SET revoked_at = now() WHERE id = %s", [token.pk]),
        ("UPDATE tenants_apitoken SET client_id = %s WHERE id = %s", [tenant_b.pk, token.pk]),
        ("UPDATE tenants_apitoken SET scope = 'write' WHERE id = %s", [token.pk]),
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.is_revoked and stored.client == tenant_a and stored.scope == TokenScope.READ
    assert api(plaintext).get(CLIENT_API).status_code == 401


def test_the_tokens_page_shows_each_scope_and_last_use(login, personas, tenant_a, api):
    import re

    admin = login(personas.msp_admin)
    issued = {}
    for name, scope in (("psa-read", "read"), ("psa-write", "write")):
        response = admin.post(
            "/clients/tenant-a/tokens/", {"action": "create", "name": name, "scope": scope}
        )
        assert response.status_code == 201
        issued[name] = response.context["issued"].plaintext
    assert api(issued["psa-write"]).get(CLIENT_API).status_code == 200
    used = ApiToken.objects.get(name="psa-write")
    assert used.last_used_at is not None

    page = admin.get("/clients/tenant-a/tokens/").content.decode()
    rows = {
        name: re.search(rf"<td>{name}</td>(.*?)</tr>", page, re.S).group(1)
        for name in ("psa-read", "psa-write")
    }
    assert "<td>Read</td>" in rows["psa-read"] and "never" in rows["psa-read"]
    assert "<td>Read and write</td>" in rows["psa-write"] and "never" not in rows["psa-write"]
    local = used.last_used_at.astimezone(tenant_a.tz)
    assert f"{local:%Y-%m-%d %H:%M}" in rows["psa-write"]
    assert not any(plaintext in page for plaintext in issued.values())


MSP_TOKENS = "/accounts/tokens/"


def test_the_msp_tokens_page_issues_lists_and_revokes_tokens_for_every_client(
    login, personas, tenant_a, make_token, api
):
    admin = login(personas.msp_admin)
    assert "No tokens for every client" in admin.get(MSP_TOKENS).content.decode()
    refused = admin.post(MSP_TOKENS, {"action": "create", "name": "rmm", "scope": "agent"})
    assert refused.status_code == 400 and not ApiToken.objects.exists()

    response = admin.post(MSP_TOKENS, {"action": "create", "name": "psa-all", "scope": "write"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    plaintext = response.context["issued"].plaintext
    token = ApiToken.objects.get(name="psa-all")
    assert token.client is None and token.scope == TokenScope.WRITE
    assert token.created_by == personas.msp_admin
    for slug in ("tenant-a", "tenant-b"):
        assert api(plaintext).get(f"/clients/{slug}/api/v1/client/").status_code == 200
    page = admin.get(MSP_TOKENS).content.decode()
    assert plaintext not in page and "psa-all" in page and "Read and write" in page
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert (
        f"{token.last_used_at.astimezone(timezone.get_current_timezone()):%Y-%m-%d %H:%M}" in page
    )
    # The client's page says the token is valid there too.
    assert (
        "1 active token for all clients" in admin.get("/clients/tenant-a/tokens/").content.decode()
    )

    # A client's token is not listed, nor revoked, here.
    client_token, _ = make_token(TokenScope.READ, tenant_a, name="clinic-only-rmm")
    assert client_token.name not in admin.get(MSP_TOKENS).content.decode()
    response = admin.post(MSP_TOKENS, {"action": "revoke", "token": str(client_token.uuid)})
    assert response.status_code == 404 and not ApiToken.objects.get(pk=client_token.pk).is_revoked

    response = admin.post(MSP_TOKENS, {"action": "revoke", "token": str(token.uuid)})
    assert response.status_code == 302
    assert api(plaintext).get("/clients/tenant-a/api/v1/client/").status_code == 401
    rows = AuditEvent.objects.filter(target__startswith="psa-all").order_by("id")
    assert [(r.kind, r.client_id, r.actor_id) for r in rows] == [
        ("token.created", None, personas.msp_admin.pk),
        ("token.revoked", None, personas.msp_admin.pk),
    ]


@pytest.mark.parametrize("persona", ["engineer", "owner_a", "viewer_a", "account_manager"])
def test_only_msp_admins_reach_the_msp_tokens_page(persona, login, personas):
    http = login(getattr(personas, persona))
    assert http.get(MSP_TOKENS).status_code == 403
    response = http.post(MSP_TOKENS, {"action": "create", "name": "x", "scope": "read"})
    assert response.status_code == 403 and not ApiToken.objects.exists()
