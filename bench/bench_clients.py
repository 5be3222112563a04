"""Time to create client number 1, 50 and 100, beside a bare CREATE SCHEMA in the same run."""

from __future__ import annotations

import time

from django.db import connection

from bench.record import Ratio, Result
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


def run(scale: float = 1.0) -> Result:
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
    first, last = rows[0], rows[-1]
    return Result(
        figures={
            "clients created": total,
            **{
                f"client #{row['client']}: create_client / bare CREATE SCHEMA (s)": (
                    f"{row['create_client_s']:.3f} / {row['create_schema_s']:.4f}"
                )
                for row in rows
            },
        },
        ratios=[
            *(
                Ratio(
                    f"client #{row['client']} vs bare CREATE SCHEMA",
                    row["create_client_s"],
                    row["create_schema_s"],
                )
                for row in rows
            ),
            # Cloned from the template schema, not migrated: the last client costs what the
            # first did.
            Ratio(
                f"client #{last['client']} vs client #1",
                last["create_client_s"],
                first["create_client_s"],
                target="<= 1.5",
            ),
        ],
    )
