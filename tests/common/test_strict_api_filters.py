"""An API list refuses an ordering or a filter value it cannot honour (400 naming the allowed
values) instead of silently answering something else."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tenants.choices import TokenScope
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
URL = "/clients/tenant-a/api/v1/findings/"


@pytest.fixture
def reader(tenant_a, make_token, api):
    with tenant_context(tenant_a):
        push(
            [
                Device("pc-1").missing_kb("KB5000001", severity="critical"),
                Device("pc-2").missing_kb("KB5000002", severity="low"),
            ]
        )
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    return api(plaintext)


def test_an_unknown_ordering_is_refused_with_the_allowed_ones(reader):
    response = reader.get(URL, {"ordering": "due_at,colour"})
    assert response.status_code == 400
    message = response.json()["ordering"][0]
    assert message.startswith("Unknown ordering colour. Allowed: ")
    assert "due_at" in message and "-due_at" in message


def test_a_known_ordering_orders(reader):
    # Both detected together: the critical one's shorter window makes it due first.
    def tiers(ordering: str) -> list[str]:
        return [f["tier"] for f in reader.get(URL, {"ordering": ordering}).json()["results"]]

    assert tiers("due_at") == ["critical", "low"]
    assert tiers("-due_at") == ["low", "critical"]


def test_an_unknown_choice_is_refused_with_the_choices(reader):
    response = reader.get(URL, {"tier": "catastrophic"})
    assert response.status_code == 400
    messages = response.json()["tier"]
    assert any(m.startswith("Allowed: ") and "critical" in m and "low" in m for m in messages)
