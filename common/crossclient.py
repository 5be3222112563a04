"""Lists across client schemas in one statement: a UNION ALL of one part per schema, counted
and paged by PostgreSQL (so a page of a cross-client list costs two queries — its count and its
rows — however many clients there are).

A ``UnionSpec`` says what each part selects from a schema (``{s}`` stands for the quoted schema
name) and the columns it answers; ``UnionRows`` is the lazy sequence DRF's pagination slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

__all__ = ["UnionSpec", "UnionRows"]


@dataclass(frozen=True)
class UnionSpec:
    """One part of the union, for any schema: ``SELECT <select> FROM <source> WHERE …``.

    ``select`` and ``source`` may use ``{s}`` for the schema; ``columns`` are the names the
    select answers, in order (the first column of every row is its schema, ``schema_name``)."""

    select: str
    source: str
    columns: tuple[str, ...]


@dataclass
class UnionRows:
    """The rows of ``spec`` in ``schemas`` matching ``where`` (SQL with ``%s`` params over the
    part's aliases), in ``order`` (column names of the union, ``-`` for descending)."""

    spec: UnionSpec
    schemas: Sequence[str]
    where: list[tuple[str, list[Any]]] = field(default_factory=list)
    order: Sequence[str] = ()
    _count: int | None = None

    def _union(self) -> tuple[str, list[Any]]:
        quote = connection.ops.quote_name
        clauses = " AND ".join(f"({sql})" for sql, _ in self.where) or "TRUE"
        where_params = [p for _, ps in self.where for p in ps]
        parts, params = [], []
        for schema in self.schemas:
            s = quote(schema)
            parts.append(
                f"SELECT %s AS schema_name, {self.spec.select.format(s=s)} "
                f"FROM {self.spec.source.format(s=s)} WHERE {clauses}"
            )
            params += [schema, *where_params]
        return " UNION ALL ".join(parts), params

    def count(self) -> int:
        if self._count is None:
            if not self.schemas:
                self._count = 0
            else:
                sql, params = self._union()
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM ({sql}) AS u", params)
                    self._count = cursor.fetchone()[0]
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[dict[str, Any]]:
        if not isinstance(window, slice) or window.step is not None:
            raise TypeError("UnionRows supports plain slices only.")
        start = window.start or 0
        if not self.schemas or (window.stop is not None and window.stop <= start):
            return []
        columns = ("schema_name", *self.spec.columns)
        ordering = ", ".join(
            f"u.{connection.ops.quote_name(term.lstrip('-'))}"
            + (" DESC" if term.startswith("-") else "")
            for term in self.order
        )
        sql, params = self._union()
        query = f"SELECT * FROM ({sql}) AS u"
        if ordering:
            query += f" ORDER BY {ordering}"
        if window.stop is not None:
            query += " LIMIT %s"
            params.append(window.stop - start)
        query += " OFFSET %s"
        params.append(start)
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
