"""Inventory ingest: a synthetic client of 10,000 assets × 100 software rows pushed through the
discovery ingest (validation, matching, change tracking, COPY + upsert), beside a raw
PostgreSQL ``COPY`` + ``INSERT … ON CONFLICT`` of the same rows in the same run.

Targets: a first push reaches at least 0.8× the raw rate, an upgrade push (every version
changed: every row rewritten and a change recorded for each) at least 0.5×. Runs in a
throwaway client schema that is dropped afterwards.
"""

from __future__ import annotations

import io
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.record import Result

ASSETS = 10_000
SOFTWARE_PER_ASSET = 100
BATCH = 1_000  # devices per push (one transaction each, as an agent fleet would send)


def _payload(i: int, software: int, version: str) -> dict[str, Any]:
    return {
        "agent_id": f"bench-{i:06d}",
        "collected_at": "2026-03-02T08:00:00Z",
        "system_info": {"hostname": f"BENCH-{i:06d}", "hardware_serial": f"SN{i:08d}"},
        "os_version": {
            "name": "Microsoft Windows 11 Pro",
            "version": "10.0.22631",
            "platform": "windows",
        },
        "interface_details": [
            {
                "interface": "eth0",
                "mac": f"02:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01",
            }
        ],
        "programs": [
            {"name": f"Package {j:03d}", "version": f"{version}.{j}", "publisher": "Bench Corp"}
            for j in range(software)
        ],
    }


def _ingest(assets: int, software: int, version: str) -> float:
    from inventory.services import run_ingest

    elapsed = 0.0
    for first in range(0, assets, BATCH):
        batch = [_payload(i, software, version) for i in range(first, min(first + BATCH, assets))]
        started = time.perf_counter()  # what the agents send is not the server's work
        run_ingest(data=batch, source="agent", run_source="agent", source_name="bench")
        elapsed += time.perf_counter() - started
    return elapsed


def _raw(software: int) -> tuple[float, int]:
    """COPY the same rows into a temp table and upsert them into a copy of the software table."""
    from django.db import connection, transaction

    from inventory.models import Asset, InstalledSoftware

    table = InstalledSoftware._meta.db_table
    asset_ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        # Same columns, defaults, indexes and (deferred) foreign key as the real table.
        cursor.execute(f"CREATE TABLE bench_raw_software (LIKE {table} INCLUDING ALL)")
        cursor.execute(
            "ALTER TABLE bench_raw_software ADD FOREIGN KEY (asset_id) "
            f"REFERENCES {Asset._meta.db_table} (id) DEFERRABLE INITIALLY DEFERRED"
        )
    started = time.perf_counter()
    rows = 0
    for first in range(0, len(asset_ids), BATCH):
        buffer = io.StringIO()
        for asset_id in asset_ids[first : first + BATCH]:
            for j in range(software):
                buffer.write(f"{asset_id}\tprogram\tPackage {j:03d}\t\t1.{j}\tBench Corp\tother\n")
                rows += 1
        buffer.seek(0)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE raw_load (asset_id bigint, kind text, name text, arch text, "
                "version text, vendor text, category text) ON COMMIT DROP"
            )
            cursor.cursor.copy_expert(
                "COPY raw_load (asset_id, kind, name, arch, version, vendor, category) FROM STDIN",
                buffer,
            )
            cursor.execute(
                "INSERT INTO bench_raw_software (asset_id, kind, name, arch, version, vendor, "
                "category, first_seen, last_seen, updated_at) SELECT asset_id, kind, name, arch, "
                "version, vendor, category, now(), now(), now() FROM raw_load "
                "ON CONFLICT (asset_id, kind, name, arch) DO UPDATE SET "
                "version = EXCLUDED.version, last_seen = EXCLUDED.last_seen, "
                "updated_at = EXCLUDED.updated_at"
            )
    return time.perf_counter() - started, rows


def run(*, scale: float = 1.0) -> Result:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from bench.record import Ratio, Result
    from inventory.models import InstalledSoftware
    from tenants.services import create_client

    assets = max(10, int(ASSETS * scale))
    software = SOFTWARE_PER_ASSET
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    client = create_client(slug=slug, name="Benchmark client")
    try:
        with tenant_context(client):
            first = _ingest(assets, software, "1")
            rows = InstalledSoftware.objects.count()
            again = _ingest(assets, software, "1")  # idempotent re-push: nothing changes
            upgraded = _ingest(assets, software, "2")  # every version changes
            raw_seconds, raw_rows = _raw(software)
    finally:
        connection.set_schema_to_public()
        client.delete(force_drop=True)
    ingest_rate = rows / first
    raw_rate = raw_rows / raw_seconds
    return Result(
        figures={
            "assets × software": f"{assets} × {software} = {rows} rows",
            "ingest, first push (rows/s)": round(ingest_rate),
            "ingest, same push again (rows/s)": round(rows / again),
            "ingest, every version upgraded (rows/s)": round(rows / upgraded),
            "raw COPY + upsert (rows/s)": round(raw_rate),
        },
        ratios=[
            Ratio(
                "ingest first push vs raw COPY + upsert",
                ingest_rate,
                raw_rate,
                "rows/s",
                target=">= 0.8",
            ),
            Ratio("ingest re-push vs raw COPY + upsert", rows / again, raw_rate, "rows/s"),
            Ratio(
                "ingest upgrade vs raw COPY + upsert",
                rows / upgraded,
                raw_rate,
                "rows/s",
                target=">= 0.5",
            ),
        ],
    )
