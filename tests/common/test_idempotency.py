"""A POST repeated with the same Idempotency-Key changes nothing twice: the first answer comes
back; another body with the same key, a bad key and a key still in flight are refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import tenant_context

from exceptions_register.models import RiskException
from tenants.choices import TokenScope
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/exceptions/"


def _body(ticket: str, asset) -> str:
    return json.dumps(
        {
            "kind": "deferral",
            "findings": [],
            "assets": [str(asset.uuid)],
            "reason": "Vendor certification pending.",
            "ticket_reference": ticket,
            "expires_at": (timezone.now() + timedelta(days=30)).isoformat(),
            "approver": "owner@a.test",
            "compensating_controls": [{"kind": "extra_monitoring", "description": "EDR."}],
        }
    )


@pytest.fixture
def writer(tenant_a, make_token, api):
    _, plaintext = make_token(TokenScope.WRITE, tenant_a)
    return api(plaintext)


@pytest.fixture
def asset(tenant_a):
    with tenant_context(tenant_a):
        return reported_asset("srv-idem-01")


def _count(tenant_a) -> int:
    with tenant_context(tenant_a):
        return RiskException.objects.count()


def _post(client, body: str, key: str | None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, content_type="application/json", **headers)


def test_a_repeat_with_the_same_key_answers_the_first_answer(writer, asset, tenant_a):
    body = _body("PSA-IDEM-1", asset)
    first = _post(writer, body, "order-7f3a")
    again = _post(writer, body, "order-7f3a")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert _count(tenant_a) == 1
    # Another key is another request (here merged into the open one by the register itself).
    other = _post(writer, _body("PSA-IDEM-2", asset), "order-7f3b")
    assert other.status_code == 201 and _count(tenant_a) == 2


def test_the_same_key_with_another_body_is_refused(writer, asset, tenant_a):
    assert _post(writer, _body("PSA-IDEM-3", asset), "k-1").status_code == 201
    refused = _post(writer, _body("PSA-IDEM-4", asset), "k-1")
    assert refused.status_code == 422 and "different request" in refused.json()["detail"]
    assert _count(tenant_a) == 1


def test_keys_belong_to_their_caller(writer, asset, tenant_a, make_token, api):
    _, other_token = make_token(TokenScope.WRITE, tenant_a, name="other")
    assert _post(writer, _body("PSA-IDEM-5", asset), "shared").status_code == 201
    second = _post(api(other_token), _body("PSA-IDEM-6", asset), "shared")
    assert second.status_code == 201 and not second.has_header("Idempotent-Replayed")
    assert _count(tenant_a) == 2


def test_a_bad_key_is_refused_and_changes_nothing(writer, asset, tenant_a):
    for key in ("", "x" * 256, "naïve"):
        response = _post(writer, _body("PSA-IDEM-7", asset), key)
        assert response.status_code == 400, key
        assert "Idempotency-Key" in response.json()["detail"]
    assert _count(tenant_a) == 0


def test_a_refused_request_is_replayed_as_refused(writer, tenant_a):
    bad = json.dumps({"kind": "deferral"})
    first = _post(writer, bad, "k-bad")
    again = _post(writer, bad, "k-bad")
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


def test_a_repeat_while_the_first_runs_is_told_to_retry(writer, asset, tenant_a, monkeypatch):
    from common import idempotency

    seen = {}
    real_add = cache.add

    def add_then_repeat(key, value, timeout=None):
        added = real_add(key, value, timeout)
        if added and "inner" not in seen:
            seen["inner"] = True
            seen["response"] = _post(writer, body, "k-busy")  # arrives mid-flight
        return added

    body = _body("PSA-IDEM-8", asset)
    monkeypatch.setattr(idempotency.cache, "add", add_then_repeat)
    first = _post(writer, body, "k-busy")
    assert first.status_code == 201
    assert seen["response"].status_code == 409 and seen["response"]["Retry-After"] == "1"
    assert _count(tenant_a) == 1


def test_requests_without_the_header_run_as_before(writer, asset, tenant_a):
    body = _body("PSA-IDEM-9", asset)
    assert _post(writer, body, None).status_code == 201
    assert _post(writer, body, None).status_code == 200  # the register merges the duplicate
    assert _count(tenant_a) == 1
