"""Refused Bearer tokens are throttled per client address (429 with Retry-After) and audited;
a good token from another address still works."""

from __future__ import annotations

import random

import pytest
from django.test import Client as HttpClient

from accounts.models import AuditEvent
from tenants.choices import TokenScope

pytestmark = pytest.mark.django_db


def address() -> str:
    # Counters live in the cache for their window: each test comes from its own address.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def get(url: str, token: str, ip: str):
    return HttpClient().get(url, HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=ip)


@pytest.fixture
def rate(settings):
    settings.API_TOKEN_FAILURE_RATE = "3/minute"
    return 3


def test_repeated_bad_tokens_from_one_address_get_429_a_good_token_elsewhere_works(
    rate, make_token, tenant_a
):
    token, good = make_token(TokenScope.READ, tenant_a)
    attacker, elsewhere = address(), address()
    wrong_secret = f"po_{token.key_id}_not-the-secret"
    urls = [
        "/clients/tenant-a/api/v1/client/",
        "/api/v1/clients/",
        "/clients/tenant-b/api/v1/client/",
    ]
    statuses = [get(urls[i % 3], wrong_secret, attacker).status_code for i in range(rate)]
    assert statuses == [401] * rate  # counted together across every client's URL

    blocked = get(urls[0], "po_abc_def", attacker)
    assert blocked.status_code == 429
    assert 1 <= int(blocked["Retry-After"]) <= 60
    assert "Too many refused tokens" in blocked.json()["detail"]
    assert get(urls[0], good, attacker).status_code == 429  # blocked for every token
    assert get(urls[0], good, elsewhere).status_code == 200

    failures = AuditEvent.objects.filter(kind="token.auth_failed", ip_address=attacker)
    assert failures.count() == rate + 1  # each refusal, then the block once
    first = failures.order_by("id").first()
    assert first.target == token.key_id and first.client == tenant_a
    assert first.detail["reason"] == "Invalid token."
    assert not AuditEvent.objects.filter(kind="token.auth_failed", ip_address=elsewhere).exists()


def test_a_revoked_token_is_a_refusal_that_counts(rate, make_token, tenant_a):
    from tenants.services import revoke_api_token

    token, plaintext = make_token(TokenScope.READ, tenant_a)
    revoke_api_token(token=token)
    ip = address()
    for _ in range(rate):
        assert get("/clients/tenant-a/api/v1/client/", plaintext, ip).status_code == 401
    assert get("/clients/tenant-a/api/v1/client/", plaintext, ip).status_code == 429
    reasons = set(
        AuditEvent.objects.filter(kind="token.auth_failed", ip_address=ip).values_list(
            "detail__reason", flat=True
        )
    )
    assert "This token has been revoked." in reasons


def test_good_tokens_and_sessions_are_not_counted(rate, make_token, tenant_a, login, personas):
    _, good = make_token(TokenScope.READ, tenant_a)
    ip = address()
    for _ in range(rate * 2):
        assert get("/clients/tenant-a/api/v1/client/", good, ip).status_code == 200
    http = login(personas.engineer)
    assert http.get("/api/v1/clients/", REMOTE_ADDR=ip).status_code == 200
    assert not AuditEvent.objects.filter(kind="token.auth_failed").exists()
