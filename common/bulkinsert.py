"""Multi-row ``INSERT`` of model instances without the ORM's per-field SQL compilation.

``QuerySet.bulk_create`` compiles a placeholder expression for every field of every row, which
costs several times the write itself for the thousands of rows an ingest batch creates
(findings, evidence events, pending updates). ``insert_instances`` keeps what bulk_create does
to the values — each field's ``pre_save`` (defaults, ``auto_now``) and ``get_db_prep_save`` — and
sends one ``INSERT … VALUES (…), (…)`` per 1,000 rows through Django's cursor (so the query is
seen by query counting and logging like any other), setting each instance's primary key from
``RETURNING``. No signals are sent, as with bulk_create.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import NOT_PROVIDED, Model

__all__ = ["insert_instances"]

BATCH = 1000


def insert_instances(
    objs: Sequence[Model],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    ignore_conflicts: bool = False,
) -> None:
    """Insert ``objs`` (all of one model) in order; their ``pk`` is set afterwards.

    ``conflict`` (field names) with ``update`` (field names) makes it an upsert,
    ``ON CONFLICT (…) DO UPDATE SET`` each of ``update`` to the new row's value, like
    ``bulk_create(update_conflicts=True)``; ``ignore_conflicts`` skips conflicting rows (their
    instances keep no pk)."""
    if not objs:
        return
    # The connection itself, not the thread-local proxy (looked up again on every attribute).
    connection = connections[DEFAULT_DB_ALIAS]
    meta = objs[0]._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if not (f is pk and f.db_returning)]
    if any(f.db_default is not NOT_PROVIDED for f in fields):
        raise ValueError(f"{meta.label}: fields with a database default need bulk_create")
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES "
    suffix = ""
    if conflict:
        target = ", ".join(connection.ops.quote_name(meta.get_field(n).column) for n in conflict)
        if update:
            sets = ", ".join(
                f"{q} = EXCLUDED.{q}"
                for q in (connection.ops.quote_name(meta.get_field(n).column) for n in update)
            )
            suffix = f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            suffix = f" ON CONFLICT ({target}) DO NOTHING"
    elif ignore_conflicts:
        suffix = " ON CONFLICT DO NOTHING"
    suffix += f" RETURNING {connection.ops.quote_name(pk.column)}"
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for start in range(0, len(objs), BATCH):
        part = objs[start : start + BATCH]
        params: list[Any] = []
        for obj in part:
            for f in fields:
                params.append(f.get_db_prep_save(f.pre_save(obj, True), connection))
        with connection.cursor() as cursor:
            cursor.execute(sql + ", ".join([row] * len(part)) + suffix, params)
            returned = cursor.fetchall()
        if len(returned) == len(part):
            for obj, (value,) in zip(part, returned, strict=True):
                obj.pk = value
                obj._state.adding = False
                obj._state.db = connection.alias
        elif not (ignore_conflicts or (conflict and not update)):
            raise RuntimeError("INSERT returned fewer rows than it was given")  # pragma: no cover
