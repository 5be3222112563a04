"""The fleet benchmark at a tiny scale on the test database: its clients are made by
create_client, its devices pushed through the discovery API, its scorecards recomputed by the
nightly task and its schemas migrated by migrate_schemas; every size it reports is the one the
scenario implies, the engine agrees with the raw aggregate, and nothing of it is left behind.
No timing is asserted (figures are the benchmark's output, not the test's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from bench import fleet
from scorecards.models import ScorecardRow
from tenants.models import Client

SCALE = 0.004  # 2 clients, 200 endpoints


@pytest.fixture
def committed(django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield
        connection.close()


def test_sizes_are_uneven_and_exact():
    full = fleet.sizes(1)
    assert len(full) == fleet.CLIENTS and sum(full) == fleet.ENDPOINTS
    assert full[:10] == [2000] * 10  # a few clients of 2,000…
    assert all(40 <= n <= 300 for n in full[10:])  # …and many of 50–300
    small = fleet.sizes(0.02)
    assert (len(small), sum(small)) == (4, 1000)


def test_a_tiny_fleet_runs_through_the_production_paths(committed):
    before = set(Client.objects.values_list("slug", flat=True))

    result = fleet.run(scale=SCALE)

    sizes = fleet.sizes(SCALE)
    figures = result.figures
    assert figures["clients"] == len(sizes) == 2
    assert figures["endpoints (largest / smallest client)"] == (
        f"{sum(sizes)} ({max(sizes)} / {min(sizes)})"
    )
    assert figures["software rows"] == sum(sizes) * fleet.SOFTWARE_PER_ENDPOINT
    assert figures["findings (opened by ingest)"] == sum(sizes) * fleet.FINDINGS_PER_ENDPOINT
    assert figures["scorecard rows (history)"] == len(sizes) * fleet.SCORECARD_DAYS
    assert figures["figures agree (engine = raw)"] is True
    assert figures["schemas migrated"] >= len(sizes)
    latest, _ = fleet._release_step()
    assert figures["the release migrated"] == f"{fleet.RELEASE_APP} {latest}"
    pushes = -(-sizes[0] // fleet.DEVICES_PER_PUSH) - (-sizes[1] // fleet.DEVICES_PER_PUSH)
    assert figures["day's pushes: requests × devices each"] == (
        f"{pushes} × ≤{fleet.DEVICES_PER_PUSH}"
    )
    names = {ratio.name for ratio in result.ratios}
    assert "day's pushes vs raw COPY + upsert" in names
    assert "nightly recompute vs raw SQL aggregate" in names
    assert all(ratio.value > 0 and ratio.baseline > 0 for ratio in result.ratios)
    assert all(ratio.met is not None for ratio in result.ratios if ratio.target)

    # Every client it made (and their scorecards) is gone again.
    connection.set_schema_to_public()
    assert set(Client.objects.values_list("slug", flat=True)) == before
    assert not ScorecardRow.objects.filter(client__slug__startswith=fleet.PREFIX).exists()
