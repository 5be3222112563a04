"""Time to create client number 1, 50 and 100, beside a bare CREATE SCHEMA in the same run."""

from __future__ import annotations

import time

from django.db import connection

from tenants.models import Client
from tenants.services import create_client

PREFIX = "bench-client-"


def _bare_create_schema(name: str) -> float:
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(f'CREATE SCHEMA "{name}"')
        elapsed = time.perf_counter() - started
        cursor.execute(f'DROP SCHEMA "{name}" CASCADE')
    return elapsed


def _cleanup() -> None:
    connection.set_schema_to_public()
    for client in Client.objects.filter(slug__startswith=PREFIX):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
        client.domains.all().delete()
        Client.objects.filter(pk=client.pk).delete()


def run(scale: float = 1.0) -> list[dict]:
    total = max(3, round(100 * scale))
    checkpoints = sorted({1, max(2, total // 2), total})
    _cleanup()
    rows = []
    try:
        for number in range(1, total + 1):
            started = time.perf_counter()
            create_client(slug=f"{PREFIX}{number:04d}", name=f"Bench client {number}")
            elapsed = time.perf_counter() - started
            if number in checkpoints:
                bare = _bare_create_schema(f"bench_bare_{number}")
                rows.append({"client": number, "create_client_s": elapsed, "create_schema_s": bare})
    finally:
        _cleanup()
    print(f"   {'client #':>9} {'create_client':>14} {'bare CREATE SCHEMA':>19} {'ratio':>8}")
    for row in rows:
        ratio = row["create_client_s"] / max(row["create_schema_s"], 1e-6)
        print(
            f"   {row['client']:>9} {row['create_client_s']:>13.3f}s "
            f"{row['create_schema_s']:>18.4f}s {ratio:>7.0f}x"
        )
    first, last = rows[0]["create_client_s"], rows[-1]["create_client_s"]
    print(
        f"   client #{rows[-1]['client']} takes {last / first:.2f}× the time of client #1 "
        "(cloned from the template schema, not migrated)"
    )
    return rows
