"""Compliance engine benchmark: 100 clients × 1,000 assets × 20 findings (``BENCH_SCALE`` shrinks
clients and assets, e.g. ``BENCH_SCALE=0.1`` → 10 × 100 × 20).

Builds throwaway client schemas cloned from the template schema, loads the rows with COPY, then
in the same run times (a) the engine's full compliance recompute of every client
(``compliance.engine.compute``: compliance by client/tier/OS/class, SLA attainment, time to
remediate, exceptions, failure rate, after-hours tickets, counters), its compliance part alone
(``compliance_at``) and the nightly scorecard's figures (``scorecard_figures``), beside (b) one
raw SQL aggregate of the compliance % over the same rows (one ``UNION ALL`` statement across the
schemas). Both engine paths must agree with it on every client. Prints the ratios (target:
within 2×) and drops every schema it created.
"""

from __future__ import annotations

import io
import math
import os
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from bench.record import Ratio, Result
from compliance import engine
from tenants.models import Client

PREFIX = "bench_cmp_"
FINDINGS_PER_ASSET = 20
OS = ["windows", "windows", "windows", "linux", "macos"]
ROLES = ["workstation", "workstation", "server", "shared_kiosk"]
TIERS = ["critical", "high", "high", "medium", "medium", "low", "unknown"]


def _scale() -> tuple[int, int]:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    return max(1, math.ceil(100 * scale)), max(1, math.ceil(1000 * scale))


def _copy(cursor, table: str, columns: list[str], rows: io.StringIO) -> None:
    rows.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", rows)


def _load(schema: str, n_assets: int, rng: random.Random, now) -> None:
    # The connection's own schema switch (not a raw SET): with TENANT_LIMIT_SET_CALLS it knows
    # which search_path is set.
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("SELECT key, id FROM inventory_assetclass")
        classes = dict(cursor.fetchall())
        class_ids = (
            [classes["workstation"]] * 6
            + [classes["core_server"]] * 2
            + [classes["do_not_disrupt"]]
        )
        assets = io.StringIO()
        for i in range(1, n_assets + 1):
            stale = "t" if rng.random() < 0.02 else "f"
            assets.write(
                f"{i},{_uuid(rng)},host-{i:05d},{rng.choice(OS)},{rng.choice(class_ids)},"
                f"{'t' if rng.random() < 0.2 else 'f'},t,{stale},agent,{now.isoformat()},"
                f"{now.isoformat()},{now.isoformat()},{now.isoformat()},{{}},{{}},{{}},"
                ""
                f'"","","","","{rng.choice(ROLES)}","","",{{deb}},t,"",f,"",""\n'
            )
        _copy(
            cursor,
            "inventory_asset",
            ["id", "uuid", "hostname", "os_family", "asset_class_id", "is_ephi", "is_managed",
             "is_stale", "source", "first_seen", "last_seen", "created_at", "updated_at",
             "mac_addresses", "ip_addresses", "data_flows", "hardware_serial", "os_name",
             "os_version", "os_build", "role", "owner", "location", "software_tables",
             "has_reported_updates", "os_arch", "reboot_pending", "reboot_approval",
             "reboot_approved_by"],
            assets,
        )  # fmt: skip
        # Each asset's last patch list: most within the 14-day staleness window, some older
        # (not reporting), 2 % never (outside patch scope).
        reports = io.StringIO()
        for i in range(1, n_assets + 1):
            if rng.random() < 0.02:
                continue
            reported = now - timedelta(hours=rng.randint(1, 24 * 18))
            reports.write(f"{i},{reported.isoformat()}\n")
        _copy(cursor, "inventory_patchreport", ["asset_id", "reported_at"], reports)
        findings = io.StringIO()
        fid = 0
        for asset in range(1, n_assets + 1):
            for k in range(FINDINGS_PER_ASSET):
                fid += 1
                detected = now - timedelta(hours=rng.randint(1, 24 * 60))
                due = detected + timedelta(hours=rng.choice([24, 72, 168, 336, 720]))
                verified = ""
                state = "open"
                if rng.random() < 0.6 and detected + timedelta(hours=6) < now:
                    v = detected + timedelta(hours=rng.randint(6, 24 * 20))
                    if v < now:
                        verified, state = v.isoformat(), "verified"
                findings.write(
                    f"{fid},{_uuid(rng)},{asset},KB{5000000 + k},{{}},"
                    f"{'t' if rng.random() < 0.05 else 'f'},{rng.choice(TIERS)},"
                    f"{rng.randint(0, 9999) / 100},pending_update,{state},"
                    f"{detected.isoformat()},{due.isoformat()},{verified},"
                    f'{now.isoformat()},{now.isoformat()},"","",""\n'
                )
        _copy(
            cursor,
            "patchops_finding",
            ["id", "uuid", "asset_id", "patch_identifier", "cves", "is_kev", "tier",
             "risk_score", "origin", "state", "detected_at", "due_at", "verified_at",
             "created_at", "updated_at", "package_name", "installed_version", "fixed_version"],
            findings,
        )  # fmt: skip
        cursor.execute("ANALYZE inventory_asset")
        cursor.execute("ANALYZE inventory_patchreport")
        cursor.execute("ANALYZE patchops_finding")


def _clone_tables(template: str, schema: str) -> None:
    """Empty copies of the template's tables (indexes and constraints, no foreign keys), plus
    the template's reference rows (asset classes, SLA policy): much faster than a full clone."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [template]
        )
        for (table,) in cursor.fetchall():
            cursor.execute(
                f'CREATE TABLE "{schema}"."{table}" (LIKE "{template}"."{table}" INCLUDING ALL)'
            )
            if table in ("inventory_assetclass", "patchops_slapolicy", "patchops_slarule"):
                cursor.execute(
                    f'INSERT INTO "{schema}"."{table}" SELECT * FROM "{template}"."{table}"'
                )


def _uuid(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _raw_aggregate(schemas: list[str], at) -> list[tuple]:
    """The client compliance % as one plain statement per schema: in scope = managed with a
    patch report by ``at``; compliant = a report within 14 days and no overdue finding (the
    engine's definition without exceptions, none of which the benchmark creates)."""
    window = at - timedelta(days=engine.DEFAULT_STALE_AFTER_DAYS)
    parts = []
    params: list = []
    for schema in schemas:
        parts.append(
            f"SELECT '{schema}' AS schema, count(*) AS in_scope,"
            " count(*) FILTER (WHERE EXISTS ("
            f' SELECT 1 FROM "{schema}".inventory_patchreport r WHERE r.asset_id = a.id'
            " AND r.reported_at <= %s AND r.reported_at > %s) AND NOT EXISTS ("
            f' SELECT 1 FROM "{schema}".patchops_finding f WHERE f.asset_id = a.id'
            " AND f.detected_at <= %s AND (f.verified_at IS NULL OR f.verified_at > %s)"
            " AND f.state <> 'not_applicable' AND f.due_at < %s)) AS compliant"
            f' FROM "{schema}".inventory_asset a WHERE a.is_managed AND EXISTS ('
            f' SELECT 1 FROM "{schema}".inventory_patchreport p WHERE p.asset_id = a.id'
            " AND p.reported_at <= %s)"
        )
        params += [at, window, at, at, at, at]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return cursor.fetchall()


def run() -> Result:
    n_clients, n_assets = _scale()
    rng = random.Random(20260520)
    now = timezone.now()
    connection.set_schema_to_public()
    schemas = [f"{PREFIX}{i:03d}" for i in range(n_clients)]
    created: list[str] = []
    try:
        t0 = time.perf_counter()
        for schema in schemas:
            _clone_tables(settings.TENANT_BASE_SCHEMA, schema)
            created.append(schema)
            _load(schema, n_assets, rng, now)
        build = time.perf_counter() - t0
        clients = [
            Client(schema_name=s, slug=s.replace("_", "-"), name=s, timezone="America/Chicago")
            for s in schemas
        ]

        t0 = time.perf_counter()
        engine_pct = {}
        for client in clients:
            with tenant_context(client):
                engine_pct[client.schema_name] = engine.compliance_at(now).client
        engine_compliance = time.perf_counter() - t0

        t0 = time.perf_counter()
        for client in clients:
            with tenant_context(client):
                engine.compute(client=client, at=now, period_days=30)
        engine_full = time.perf_counter() - t0

        t0 = time.perf_counter()
        scorecard_pct = {}
        for client in clients:
            with tenant_context(client):
                figures = engine.scorecard_figures(client=client, at=now, period_days=30)
                scorecard_pct[client.schema_name] = figures.compliance.client
        engine_scorecard = time.perf_counter() - t0

        t0 = time.perf_counter()
        raw = _raw_aggregate(schemas, now)
        raw_time = time.perf_counter() - t0

        mismatches = [s for s, total, ok in raw if any((ok, total) != (
            figures[s].numerator, figures[s].denominator) for figures in (engine_pct,
            scorecard_pct))]  # fmt: skip
        if mismatches:
            raise AssertionError(f"engine and raw aggregate disagree for {mismatches}")
        return Result(
            figures={
                "clients": n_clients,
                "assets": n_clients * n_assets,
                "findings": n_clients * n_assets * FINDINGS_PER_ASSET,
                "build_s": round(build, 2),
                "engine_compliance_s": round(engine_compliance, 3),
                "engine_full_recompute_s": round(engine_full, 3),
                "engine_scorecard_figures_s": round(engine_scorecard, 3),
                "raw_sql_aggregate_s": round(raw_time, 3),
                "figures_agree": not mismatches,
            },
            ratios=[
                Ratio(
                    "compliance recompute vs raw SQL aggregate",
                    engine_compliance,
                    raw_time,
                    target="<= 2",
                ),
                Ratio("full recompute vs raw SQL aggregate", engine_full, raw_time),
                Ratio(
                    "scorecard figures (nightly path) vs raw SQL aggregate",
                    engine_scorecard,
                    raw_time,
                    target="<= 2",
                ),
            ],
        )
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            for schema in created:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
