"""Date-time filters take any ISO 8601 offset (normalised to UTC), reject out-of-range input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from common.filtering import UtcIsoDateTimeField
from tenants.choices import TokenScope

# PostgreSQL refuses offsets beyond ±15:59; ISO 8601 and Python allow up to ±23:59.
FAR_OFFSET = "2026-08-04T17:01:41-18:40"


def test_field_normalises_far_offsets_to_utc() -> None:
    value = UtcIsoDateTimeField().clean(FAR_OFFSET)
    assert value == datetime(2026, 8, 5, 11, 41, 41, tzinfo=UTC)
    assert value.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+18:40", "9999-12-31T23:59:00-18:40"])
def test_field_rejects_moments_outside_years_1_to_9999(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        UtcIsoDateTimeField().clean(raw)
    assert exc.value.code == "out_of_range"


@pytest.mark.parametrize(
    "path",
    [
        "/clients/tenant-a/api/v1/assets/?seen_before={when}",
        "/clients/tenant-a/api/v1/discovery-runs/?started_after={when}",
        "/clients/tenant-a/api/v1/unknown-devices/?seen_after={when}",
        "/clients/tenant-a/api/v1/exceptions/?expiring_before={when}",
        "/clients/tenant-a/api/v1/rollouts/?created_after={when}",
        "/clients/tenant-a/api/v1/evidence/?occurred_before={when}",
        "/clients/tenant-a/api/v1/psa-tickets/?created_after={when}",
        "/api/v1/clients/?created_after={when}",
    ],
)
def test_api_filters_with_far_offsets_answer_200_not_500(
    path: str, tenant_a, make_token, api
) -> None:
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    response = api(plaintext).get(path.format(when=FAR_OFFSET.replace("+", "%2B")))
    assert response.status_code == 200, response.content


def test_api_filter_out_of_range_is_a_400_with_the_field(tenant_a, make_token, api) -> None:
    _, plaintext = make_token(TokenScope.READ, tenant_a)
    response = api(plaintext).get(
        "/clients/tenant-a/api/v1/assets/?seen_after=9999-12-31T23:59:00-18:40"
    )
    assert response.status_code == 400
    assert "seen_after" in response.json()
