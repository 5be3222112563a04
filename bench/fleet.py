"""An MSP-sized fleet: 200 clients, 50,000 endpoints, 5 million software rows, 1 million findings
and a year of scorecards (``--scale`` shrinks every size: 0.02 → 4 clients, 1,000 endpoints).

The fleet is uneven, as an MSP's is: a few clients of 2,000 endpoints (5 % of the clients, 40 %
of the endpoints) and many of 50–300. Every part goes through the production path:

* **clients**: ``tenants.services.create_client`` (schema cloned from the template), each with an
  agent token from ``issue_api_token``; a year of scorecard rows before today per client is
  loaded with COPY (history only: the rows today's recompute writes come from the engine);
* **one day of agent pushes**: every endpoint's inventory (100 programs, 20 pending updates, so
  the findings are opened by ingest and matching) POSTed to ``/clients/<slug>/api/v1/discovery/``
  with the client's agent token, through Django's request handler (middleware, tenant routing,
  token authentication, validation, ingest), ``DEVICES_PER_PUSH`` devices a request as a site
  collector sends them; beside a raw ``COPY`` + ``INSERT … ON CONFLICT`` of the same software
  rows into a copy of the table (target ≥ 0.5× its rate, and the day under 1 hour of server time
  at full size). The measured day is the fleet's first: every row is new and every finding is
  opened (with its evidence event), the heaviest day there is; the next day's pushes (the same
  inventories again) are measured too, without a target;
* **the nightly recompute**: ``patchops.record_scorecard`` (the task beat fans out: the compliance
  engine's full figures and the day's scorecard row) for every client, beside one raw SQL
  compliance aggregate per client (target ≤ 2×, and under 10 minutes at full size); the two must
  agree on every client's assets in scope and compliant;
* **a release's migration of every client schema**: every fleet schema is taken back one
  migration (the rings app's latest, an added column, two tables and their constraints), then
  ``migrate_schemas --tenant`` applies it again, with the standard executor and with
  django-tenants' multiprocessing one (what ``bootstrap`` uses with
  ``TENANT_MIGRATION_EXECUTOR=multiprocessing``), target under 10 minutes at full size;
* **creating one more client** (target ≤ 1 s).

Absolute targets are budgets for the full fleet; below full scale each is scaled with the fleet
(the day's ingest budget at 0.02 is 72 s) and printed as a ratio of spent to budget. Every client
this benchmark creates is dropped afterwards.

    python -m bench fleet --scale 0.02     # through the benchmark runner (make bench)
    python -m bench.fleet --scale 0.02     # this one alone
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.record import Result
    from tenants.models import Client

CLIENTS = 200
ENDPOINTS = 50_000
SOFTWARE_PER_ENDPOINT = 100  # 5,000,000 rows
FINDINGS_PER_ENDPOINT = 20  # 1,000,000 findings
SCORECARD_DAYS = 365
DEVICES_PER_PUSH = 25
BIG_CLIENTS_SHARE = 0.05  # of the clients…
BIG_ENDPOINTS_SHARE = 0.40  # …own this share of the endpoints (2,000 each at full size)
PROGRAM_POOL = 400  # distinct programs across the fleet
KB_POOL = 60  # distinct pending KBs across the fleet

INGEST_BUDGET_S = 3600.0  # the day's pushes, full fleet
RECOMPUTE_BUDGET_S = 600.0
MIGRATE_BUDGET_S = 600.0
CREATE_CLIENT_BUDGET_S = 1.0

PREFIX = "fleet-"


@dataclass
class FleetClient:
    client: Client
    token: str
    endpoints: int
    first: int  # fleet-wide number of its first endpoint


def sizes(scale: float) -> list[int]:
    """Endpoints per client: a few big clients and many of 50–300 (at full size)."""
    clients = max(2, round(CLIENTS * scale))
    total = max(clients * 5, round(ENDPOINTS * scale))
    big = max(1, round(clients * BIG_CLIENTS_SHARE))
    big_each = round(total * BIG_ENDPOINTS_SHARE / big)
    rng = random.Random(20261204)
    weights = [rng.uniform(50, 300) for _ in range(clients - big)]
    rest = total - big_each * big
    small = [max(1, round(rest * w / sum(weights))) for w in weights]
    small[-1] += rest - sum(small)  # the total is exact
    return [big_each] * big + small


def device(number: int) -> dict[str, Any]:
    """Endpoint ``number`` as its agent reports it (osquery tables, patchops_agent's shape)."""
    rng = random.Random(number)
    server = number % 10 == 0
    programs = rng.sample(range(PROGRAM_POOL), SOFTWARE_PER_ENDPOINT)
    kbs = rng.sample(range(KB_POOL), FINDINGS_PER_ENDPOINT)
    return {
        "agent_id": f"fleet-{number:06d}",
        "collected_at": "2026-03-02T08:00:00Z",
        "system_info": {
            "hostname": f"FLEET-{number:06d}",
            "hardware_serial": f"SN{number:08d}",
        },
        "os_version": (
            {
                "name": "Microsoft Windows Server 2022 Standard",
                "version": "10.0.20348",
                "build": "20348",
                "platform": "windows",
            }
            if server
            else {
                "name": "Microsoft Windows 11 Pro",
                "version": "10.0.22631",
                "build": "22631",
                "platform": "windows",
            }
        ),  # fmt: skip
        "interface_details": [
            {
                "interface": "eth0",
                "mac": f"02:00:{number >> 16 & 255:02x}:"
                f"{number >> 8 & 255:02x}:{number & 255:02x}:01",
            }
        ],  # fmt: skip
        "programs": [_program(p) for p in sorted(programs)],
        "pending_updates": [
            {
                "name": f"Security update KB{5030000 + kb}",
                "source": "windows_update",
                "advisory": f"KB{5030000 + kb}",
                "severity": ("critical", "high", "medium", "low")[kb % 4],
                "reboot_required": True,
            }
            for kb in sorted(kbs)
        ],
    }


def _program(p: int) -> dict[str, str]:
    return {"name": f"Fleet App {p:03d}", "version": f"{1 + p % 7}.{p % 13}.{p}", "publisher":
            f"Vendor {p % 40:02d}"}  # fmt: skip


def _create_fleet(scale: float) -> list[FleetClient]:
    from tenants.choices import TokenScope
    from tenants.services import create_client, issue_api_token

    fleet = []
    first = 0
    run = uuid.uuid4().hex[:6]
    for i, endpoints in enumerate(sizes(scale)):
        client = create_client(
            slug=f"{PREFIX}{run}-{i:03d}",
            name=f"Fleet client {i + 1}",
            timezone_name=("America/Chicago", "Europe/Berlin", "UTC")[i % 3],
        )
        token = issue_api_token(name="fleet-agents", scope=TokenScope.AGENT, client=client)
        fleet.append(FleetClient(client, token.plaintext, endpoints, first))
        first += endpoints
    return fleet


def _load_scorecard_history(fleet: list[FleetClient], today) -> int:
    """A year of scorecard rows before today for every client (COPY: history is backdrop)."""
    from django.db import connection

    from scorecards.models import ScorecardRow

    rng = random.Random(7)
    buffer = io.StringIO()
    rows = 0
    for member in fleet:
        for back in range(SCORECARD_DAYS, 0, -1):
            day = today - timedelta(days=back)
            scope = member.endpoints
            compliant = round(scope * rng.uniform(0.7, 1.0))
            pct = f"{100 * compliant / scope:.2f}"
            buffer.write(
                f"{member.client.pk}\t{day.isoformat()}\t{day.isoformat()}T05:17:00+00:00\t"
                f"{scope}\t{compliant}\t{pct}\t{{}}\t{{}}\t{{}}\t{pct}\t30\t0\t\\N\t"
                f"{rng.uniform(0, 5):.2f}\t0\t{rng.randint(0, 9)}\t{rng.randint(0, 40)}\t0\t0\tf\t"
                f"{day.isoformat()}T05:17:00+00:00\n"
            )
            rows += 1
    buffer.seek(0)
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {ScorecardRow._meta.db_table} (client_id, date, computed_at, assets_in_scope, "
            "compliant_assets, compliance_pct, by_tier, by_os_family, by_asset_class, "
            "sla_attainment_pct, sla_period_days, exceptions_active, exceptions_max_aging_days, "
            "patch_failure_rate_pct, after_hours_tickets, open_critical, overdue_findings, "
            "ephi_assets, do_not_disrupt_assets, is_regulated, updated_at) FROM STDIN",
            buffer,
        )
    return rows


def _push_day(fleet: list[FleetClient]) -> tuple[float, int]:
    """Every endpoint's push through the discovery API; answer (server seconds, requests)."""
    from django.db import connection
    from django.test import Client as HttpClient

    http = HttpClient(raise_request_exception=True)
    elapsed = 0.0
    requests = 0
    for member in fleet:
        url = f"/clients/{member.client.slug}/api/v1/discovery/"
        auth = f"Bearer {member.token}"
        for start in range(0, member.endpoints, DEVICES_PER_PUSH):
            numbers = range(
                member.first + start, member.first + min(start + DEVICES_PER_PUSH, member.endpoints)
            )
            body = json.dumps([device(n) for n in numbers])  # the agents' work, not the server's
            started = time.perf_counter()
            response = http.post(
                url, body, content_type="application/json", HTTP_AUTHORIZATION=auth, secure=True
            )
            elapsed += time.perf_counter() - started
            requests += 1
            if response.status_code != 201:
                raise AssertionError(f"push to {url}: {response.status_code} {response.content!r}")
            connection.set_schema_to_public()
    return elapsed, requests


def _raw_copy_upsert(fleet: list[FleetClient]) -> tuple[float, int]:
    """The same software rows by COPY into a temp table and an upsert into a copy of the
    software table (same columns, defaults, indexes, deferred foreign key), per push batch."""
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from inventory.models import Asset, InstalledSoftware

    table = InstalledSoftware._meta.db_table
    seconds = 0.0
    rows = 0
    for member in fleet:
        with tenant_context(member.client):
            assets = dict(Asset.objects.values_list("agent_id", "pk"))
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE fleet_raw_software (LIKE {table} INCLUDING ALL)")
                cursor.execute(
                    "ALTER TABLE fleet_raw_software ADD FOREIGN KEY (asset_id) REFERENCES "
                    f"{Asset._meta.db_table} (id) DEFERRABLE INITIALLY DEFERRED"
                )
            try:
                for start in range(0, member.endpoints, DEVICES_PER_PUSH):
                    buffer = io.StringIO()
                    stop = min(start + DEVICES_PER_PUSH, member.endpoints)
                    for n in range(member.first + start, member.first + stop):
                        payload = device(n)
                        asset_id = assets[payload["agent_id"]]
                        for p in payload["programs"]:
                            buffer.write(
                                f"{asset_id}\tprogram\t{p['name']}\t\t{p['version']}\t"
                                f"{p['publisher']}\tother\n"
                            )
                            rows += 1
                    buffer.seek(0)
                    started = time.perf_counter()
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(
                            "CREATE TEMP TABLE raw_load (asset_id bigint, kind text, name text, "
                            "arch text, version text, vendor text, category text) ON COMMIT DROP"
                        )
                        cursor.cursor.copy_expert(
                            "COPY raw_load (asset_id, kind, name, arch, version, vendor, "
                            "category) FROM STDIN",
                            buffer,
                        )
                        cursor.execute(
                            "INSERT INTO fleet_raw_software (asset_id, kind, name, arch, version, "
                            "vendor, category, first_seen, last_seen, updated_at) SELECT asset_id, "
                            "kind, name, arch, version, vendor, category, now(), now(), now() "
                            "FROM raw_load ON CONFLICT (asset_id, kind, name, arch) DO UPDATE "
                            "SET version = EXCLUDED.version, last_seen = EXCLUDED.last_seen, "
                            "updated_at = EXCLUDED.updated_at"
                        )
                    seconds += time.perf_counter() - started
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("DROP TABLE IF EXISTS fleet_raw_software")
    return seconds, rows


def _recompute(fleet: list[FleetClient]) -> tuple[float, dict[int, tuple[int, int]]]:
    """The nightly scorecard task for every client, as beat's dispatcher sends it."""
    from django.db import connection

    from scorecards.models import ScorecardRow
    from scorecards.tasks import record_scorecard_task

    started = time.perf_counter()
    for member in fleet:
        record_scorecard_task(member.client.pk)
    seconds = time.perf_counter() - started
    connection.set_schema_to_public()
    today = {
        row.client_id: (row.assets_in_scope, row.compliant_assets)
        for member in fleet
        for row in [ScorecardRow.objects.filter(client=member.client).order_by("-date").first()]
    }
    return seconds, today


def _raw_aggregates(fleet: list[FleetClient], at) -> tuple[float, dict[int, tuple[int, int]]]:
    """One raw SQL compliance aggregate per client (the engine's definition)."""
    from bench.bench_compliance import _raw_aggregate

    seconds = 0.0
    figures = {}
    for member in fleet:
        started = time.perf_counter()
        [(_, in_scope, compliant)] = _raw_aggregate([member.client.schema_name], at)
        seconds += time.perf_counter() - started
        figures[member.client.pk] = (in_scope, compliant)
    return seconds, figures


RELEASE_APP = "rings"  # the release: this app's latest migration, missing in every fleet schema


def _release_step() -> tuple[str, str]:
    """(latest, previous) migration names of ``RELEASE_APP``."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    [(_, latest)] = graph.leaf_nodes(RELEASE_APP)
    node = graph.node_map[(RELEASE_APP, latest)]
    parents = sorted(name for app, name in node.parents if app == RELEASE_APP)
    return latest, parents[-1]


def _migrate(fleet: list[FleetClient], executor: str) -> tuple[float, int]:
    """A release's migration: every fleet schema is first taken back one migration of
    ``RELEASE_APP`` (not timed), then ``migrate_schemas --tenant`` with ``executor`` brings every
    client schema up to date (timed; other clients' schemas are checked, nothing to apply)."""
    from django.core.management import call_command
    from django.db import connection

    from tenants.models import Client

    _, previous = _release_step()
    for member in fleet:
        call_command(
            "migrate_schemas",
            RELEASE_APP,
            previous,
            schema_name=member.client.schema_name,
            interactive=False,
            verbosity=0,
        )
    connection.set_schema_to_public()
    schemas = Client.objects.exclude(schema_name="public").count()
    started = time.perf_counter()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0, executor=executor)
    seconds = time.perf_counter() - started
    connection.close()  # the multiprocessing executor closes it under us; start clean
    _check_migrated(fleet)
    return seconds, schemas


def _check_migrated(fleet: list[FleetClient]) -> None:
    from django.db import connection

    latest, _ = _release_step()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        for member in fleet:
            cursor.execute(
                f'SELECT 1 FROM "{member.client.schema_name}".django_migrations '
                "WHERE app = %s AND name = %s",
                [RELEASE_APP, latest],
            )
            if not cursor.fetchone():
                raise AssertionError(f"{member.client.schema_name} lacks {RELEASE_APP} {latest}")


def _counts(fleet: list[FleetClient]) -> dict[str, int]:
    from django_tenants.utils import tenant_context

    from findings.models import Finding
    from inventory.models import Asset, InstalledSoftware

    totals = {"assets": 0, "software": 0, "findings": 0}
    for member in fleet:
        with tenant_context(member.client):
            totals["assets"] += Asset.objects.count()
            totals["software"] += InstalledSoftware.objects.count()
            totals["findings"] += Finding.objects.count()
    return totals


def _drop(clients: list[Client]) -> None:
    from django.db import connection

    connection.set_schema_to_public()
    for client in clients:
        client.delete(force_drop=True)


def run(*, scale: float = 1.0) -> Result:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from bench.record import Ratio, Result
    from tenants.models import Client
    from tenants.services import create_client

    connection.set_schema_to_public()
    _drop(list(Client.objects.filter(slug__startswith=PREFIX)))  # an interrupted run's clients
    created: list[Client] = []
    try:
        started = time.perf_counter()
        fleet = _create_fleet(scale)
        created = [member.client for member in fleet]
        build_s = time.perf_counter() - started
        today = timezone.now().date()
        history = _load_scorecard_history(fleet, today)

        ingest_s, requests = _push_day(fleet)
        counts = _counts(fleet)
        # A regular day after it: every agent sends the same inventory again (nothing new).
        again_s, _ = _push_day(fleet)
        if _counts(fleet) != counts:
            raise AssertionError(f"the same pushes again changed the rows: {counts}")
        raw_s, raw_rows = _raw_copy_upsert(fleet)
        if raw_rows != counts["software"]:
            raise AssertionError(f"raw rows {raw_rows} != ingested rows {counts['software']}")

        at = timezone.now()
        recompute_s, engine_figures = _recompute(fleet)
        aggregate_s, raw_figures = _raw_aggregates(fleet, at)
        if engine_figures != raw_figures:
            raise AssertionError(f"engine {engine_figures} != raw aggregate {raw_figures}")

        migrate_standard_s, schemas = _migrate(fleet, "standard")
        migrate_parallel_s, _ = _migrate(fleet, "multiprocessing")

        started = time.perf_counter()
        extra = create_client(slug=f"{PREFIX}{uuid.uuid4().hex[:6]}-new", name="Fleet client new")
        create_s = time.perf_counter() - started
        created.append(extra)
    finally:
        _drop(created)

    clients = len(fleet)
    endpoints = sum(m.endpoints for m in fleet)
    ingest_rate = counts["software"] / ingest_s
    raw_rate = raw_rows / raw_s
    processes = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
    return Result(
        figures={
            "clients": clients,
            "endpoints (largest / smallest client)": (
                f"{endpoints} ({max(m.endpoints for m in fleet)} / "
                f"{min(m.endpoints for m in fleet)})"
            ),
            "software rows": counts["software"],
            "findings (opened by ingest)": counts["findings"],
            "scorecard rows (history)": history,
            "fleet built: create_client × clients (s)": round(build_s, 2),
            "day's pushes: requests × devices each": f"{requests} × ≤{DEVICES_PER_PUSH}",
            "day's pushes, server time (s)": round(ingest_s, 2),
            "day's pushes (software rows/s)": round(ingest_rate),
            "next day, same inventories again, server time (s)": round(again_s, 2),
            "raw COPY + upsert (rows/s)": round(raw_rate),
            "nightly recompute, every client (s)": round(recompute_s, 3),
            "raw SQL aggregate, every client (s)": round(aggregate_s, 3),
            "figures agree (engine = raw)": engine_figures == raw_figures,
            "schemas migrated": schemas,
            "the release migrated": f"{RELEASE_APP} {_release_step()[0]}",
            "migrate_schemas, standard executor (s)": round(migrate_standard_s, 2),
            f"migrate_schemas, multiprocessing ×{processes} (s)": round(migrate_parallel_s, 2),
            f"create client #{clients + 1} (s)": round(create_s, 3),
        },
        ratios=[
            Ratio("day's pushes vs raw COPY + upsert", ingest_rate, raw_rate, "rows/s", ">= 0.5"),
            Ratio(
                "next day (unchanged pushes) vs raw COPY + upsert",
                counts["software"] / again_s,
                raw_rate,
                "rows/s",
            ),
            Ratio(
                "day's pushes vs 1 h budget (scaled)",
                ingest_s,
                INGEST_BUDGET_S * scale,
                target="<= 1",
            ),
            Ratio(
                "nightly recompute vs raw SQL aggregate", recompute_s, aggregate_s, target="<= 2"
            ),
            Ratio(
                "nightly recompute vs 10 min budget (scaled)",
                recompute_s,
                RECOMPUTE_BUDGET_S * scale,
                target="<= 1",
            ),
            Ratio(
                "migrate every schema (parallel) vs 10 min (scaled)",
                migrate_parallel_s,
                MIGRATE_BUDGET_S * scale,
                target="<= 1",
            ),
            Ratio(
                "migrate: multiprocessing vs standard executor",
                migrate_parallel_s,
                migrate_standard_s,
            ),
            Ratio(
                f"create client #{clients + 1} vs 1 s",
                create_s,
                CREATE_CLIENT_BUDGET_S,
                target="<= 1",
            ),
        ],
    )


def main() -> int:
    """``python -m bench.fleet``: this benchmark alone, through the benchmark runner."""
    import sys

    from bench.__main__ import main as bench_main

    sys.argv = [sys.argv[0], "fleet", *sys.argv[1:]]
    return bench_main()


if __name__ == "__main__":
    raise SystemExit(main())
