"""/clients/<slug>/api/v1/privileged-accounts/: read scope reads, write scope writes; secrets,
unknown systems and bad dates are refused with nothing changed."""

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from privileged.models import PrivilegedAccount
from tenants.choices import TokenScope
from tests.privileged.helpers import API, register
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db


def _token_http(make_token, tenant, scope):
    _, plaintext = make_token(scope, client=tenant)
    http = HttpClient()
    http.defaults["HTTP_AUTHORIZATION"] = f"Bearer {plaintext}"
    return http


def _payload(**overrides):
    data = {
        "kind": "break_glass",
        "name": "Emergency global admin",
        "identifier": "bg-admin@client.onmicrosoft.com",
        "owner_name": "Robin Ops",
        "owner_email": "robin@client.test",
        "known_by": ["alex@client.test"],
        "systems": [],
        "mfa_state": "enforced",
        "last_rotated_on": (timezone.localdate() - timedelta(days=5)).isoformat(),
    }
    data.update(overrides)
    return data


def _count_events():
    return EvidenceEvent.objects.filter(kind__startswith="privileged_account.").count()


def test_write_token_creates_reads_and_updates(tenant_a, make_token):
    with tenant_context(tenant_a):
        asset = reported_asset("dc-01")
    writer = _token_http(make_token, tenant_a, TokenScope.WRITE)
    response = writer.post(
        API, _payload(systems=[str(asset.uuid)]), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    # Break-glass defaults: reviewed quarterly, rotated after every use.
    assert (body["review_interval_days"], body["rotate_after_use"]) == (90, True)
    assert body["systems"] == [str(asset.uuid)] and body["mfa_covered"] is True
    assert "password" not in body and "secret" not in body
    reader = _token_http(make_token, tenant_a, TokenScope.READ)
    listed = reader.get(API).json()
    assert [a["id"] for a in listed["results"]] == [body["id"]]
    assert reader.get(f"{API}{body['id']}/").json()["name"] == body["name"]
    patched = writer.patch(
        f"{API}{body['id']}/", {"mfa_state": "not_enforced"}, content_type="application/json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["mfa_covered"] is False and patched.json()["systems"] == [str(asset.uuid)]
    with tenant_context(tenant_a):
        kinds = list(
            EvidenceEvent.objects.filter(subject_id=body["id"]).order_by("sequence")
            .values_list("kind", flat=True)
        )  # fmt: skip
    assert kinds == ["privileged_account.created", "privileged_account.changed"]


def test_read_token_cannot_write(tenant_a, make_token, personas):
    with tenant_context(tenant_a):
        account = register(tenant_a, personas.engineer)
    reader = _token_http(make_token, tenant_a, TokenScope.READ)
    assert reader.post(API, _payload(), content_type="application/json").status_code == 403
    patched = reader.patch(f"{API}{account.uuid}/", {"name": "x"}, content_type="application/json")
    assert patched.status_code == 403
    rotated = reader.post(f"{API}{account.uuid}/rotate/", {}, content_type="application/json")
    assert rotated.status_code == 403
    with tenant_context(tenant_a):
        assert PrivilegedAccount.objects.get().name == account.name


@pytest.mark.parametrize("secret", ["password", "secret", "private_key", "adminPassword"])
def test_a_payload_with_a_secret_is_refused(tenant_a, make_token, personas, secret):
    with tenant_context(tenant_a):
        account = register(tenant_a, personas.engineer)
        before = _count_events()
    writer = _token_http(make_token, tenant_a, TokenScope.WRITE)
    response = writer.post(API, _payload(**{secret: "hunter2"}), content_type="application/json")
    assert response.status_code == 400
    assert "never stores secrets" in response.json()[secret][0]
    patched = writer.patch(
        f"{API}{account.uuid}/", {"name": "Renamed", secret: "x"}, content_type="application/json"
    )
    assert patched.status_code == 400
    with tenant_context(tenant_a):
        assert PrivilegedAccount.objects.count() == 1
        assert PrivilegedAccount.objects.get().name == account.name
        assert _count_events() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("systems", ["UNKNOWN"], "No system of this client"),
        ("systems", ["not-a-uuid"], "asset id"),
        ("last_rotated_on", "2026-02-30", "Date has wrong format"),
        ("last_reviewed_on", "FUTURE", "future"),
        ("kind", "root", "is not a valid choice"),
        ("rotation_interval_days", 0, "greater than or equal to 1"),
        ("owner_user", "nobody@nowhere.test", "user of this client"),
    ],
)
def test_bad_input_is_a_clear_400(tenant_a, tenant_b, make_token, field, value, message):
    if value == ["UNKNOWN"]:
        with tenant_context(tenant_b):  # a real asset, of another client
            value = [str(reported_asset("b-host").uuid)]
    if value == "FUTURE":
        value = (timezone.localdate() + timedelta(days=2)).isoformat()
    writer = _token_http(make_token, tenant_a, TokenScope.WRITE)
    response = writer.post(API, _payload(**{field: value}), content_type="application/json")
    assert response.status_code == 400
    assert message in str(response.json()[field]), response.json()
    with tenant_context(tenant_a):
        assert not PrivilegedAccount.objects.exists() and _count_events() == 0
