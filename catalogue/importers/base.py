"""Shared import machinery: file reading, set-based upserts with change counts."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cvss import CVSS3, CVSS4
from django.db import models
from django.utils import timezone

from ..choices import SeverityTier

__all__ = [
    "ImportFileError",
    "Counts",
    "Progress",
    "read_bytes",
    "read_text",
    "read_json",
    "upsert",
    "parse_cvss3",
    "parse_cvss4",
    "severity_from_text",
    "severity_from_score",
    "chunked",
]

Progress = Callable[[int, int], None]
BATCH = 1000
LARGE = 20000  # above this many rows, read the stored table in one pass


class ImportFileError(Exception):
    """The file is not what the importer reads (wrong kind, corrupt, empty)."""


@dataclass
class Counts:
    """created / updated / unchanged per catalogue table."""

    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    as_of: datetime | None = None  # when the imported data was current
    version: str = ""  # the feed's own version (KEV catalogVersion, MSRC document id…)
    notes: dict[str, Any] = field(default_factory=dict)  # kept in CatalogueImport.details

    def newer(self, moment: datetime | None) -> None:
        """Raise ``as_of`` to ``moment`` when that is later."""
        if moment is not None and (self.as_of is None or moment > self.as_of):
            self.as_of = moment

    def add(self, table: str, *, created: int = 0, updated: int = 0, unchanged: int = 0) -> None:
        row = self.tables.setdefault(table, {"created": 0, "updated": 0, "unchanged": 0})
        row["created"] += created
        row["updated"] += updated
        row["unchanged"] += unchanged

    def total(self, key: str) -> int:
        return sum(row[key] for row in self.tables.values())

    @property
    def created(self) -> int:
        return self.total("created")

    @property
    def updated(self) -> int:
        return self.total("updated")

    @property
    def unchanged(self) -> int:
        return self.total("unchanged")

    def summary(self) -> str:
        parts = [
            f"{table}: {row['created']} created, {row['updated']} updated, "
            f"{row['unchanged']} unchanged"
            for table, row in self.tables.items()
        ]
        return "; ".join(parts) or "nothing to import"


def read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ImportFileError(f"{path.name}: corrupt gzip file ({exc})") from exc
    return data


def read_text(path: Path) -> str:
    data = read_bytes(path)
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"{path.name}: not UTF-8 text")


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunked(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        if old is None or new is None:
            return old is new
        return Decimal(old) == Decimal(new)
    return old == new


def upsert(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    counts: Counts,
    table: str | None = None,
    existing: Callable[[Sequence[dict[str, Any]]], models.QuerySet] | None = None,
    merge_arrays: Iterable[str] = (),
    fill_only: Iterable[str] = (),
    progress: Progress | None = None,
) -> dict[tuple, int]:
    """Insert new rows and update changed ones in bulk; unchanged rows are not written.

    Stored rows are read as plain values (one query per chunk, or one pass over the table for
    very large files) and compared in memory, so an unchanged re-import writes nothing.
    ``merge_arrays``: list fields whose stored value becomes the sorted union with the incoming one
    (a KB named by two monthly documents keeps the CVEs of both). ``fill_only``: fields written only
    while the stored value is empty (another importer owns them). Returns {key tuple: pk}.
    """
    table = table or model._meta.verbose_name_plural
    merge_arrays, fill_only = set(merge_arrays), set(fill_only)
    dedup: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[f] for f in key)
        if k in dedup and merge_arrays:
            for f in merge_arrays:
                row[f] = sorted(set(dedup[k].get(f, [])) | set(row.get(f, [])))
        dedup[k] = row
    items = list(dedup.items())
    fields = sorted({f for row in dedup.values() for f in row} - set(key))
    has_updated_at = any(f.name == "updated_at" for f in model._meta.concrete_fields)
    columns = ["pk", *key, *fields]

    nkey = len(key)

    def stored_rows(qs: models.QuerySet) -> dict[tuple, tuple]:
        # Plain tuples keep a 300k-row EPSS table affordable in memory.
        return {values[1 : 1 + nkey]: values for values in qs.values_list(*columns)}

    preloaded = None
    if existing is None and len(key) == 1 and len(items) >= LARGE:
        preloaded = stored_rows(model.objects.all())
    ids: dict[tuple, int] = {}
    now = timezone.now()
    done = 0
    for chunk in chunked(items):
        if preloaded is not None:
            stored = preloaded
        elif existing is not None:
            stored = stored_rows(existing([row for _, row in chunk]))
        elif len(key) == 1:
            stored = stored_rows(
                model.objects.filter(**{f"{key[0]}__in": [k[0] for k, _ in chunk]})
            )
        else:  # pragma: no cover - every composite key passes ``existing``
            raise ValueError("composite keys need an existing() lookup")
        to_create, to_update = [], []
        for k, row in chunk:
            stored_values = stored.get(k)
            if stored_values is None:
                to_create.append((k, model(**row)))
                continue
            old_row = dict(zip(columns, stored_values, strict=True))
            values = {f: old_row[f] for f in fields}
            changed = False
            for f in fields:
                if f not in row:
                    continue
                new, old = row[f], old_row[f]
                if f in merge_arrays:
                    new = sorted(set(old or []) | set(new or []))
                if f in fill_only and old not in (None, "", [], {}, SeverityTier.UNKNOWN):
                    continue
                if not _same(old, new):
                    values[f] = new
                    changed = True
            ids[k] = old_row["pk"]
            if changed:
                obj = model(**{f: old_row[f] for f in key}, **values)
                if has_updated_at:
                    obj.updated_at = now
                to_update.append(obj)
        if to_create:
            model.objects.bulk_create([obj for _, obj in to_create], batch_size=BATCH)
            ids.update({k: obj.pk for k, obj in to_create})
        if to_update:
            # INSERT … ON CONFLICT (key) DO UPDATE: one statement per batch, unlike bulk_update's
            # CASE WHEN per row (a daily EPSS file changes every one of its 300k rows).
            model.objects.bulk_create(
                to_update,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=list(key),
                update_fields=fields + (["updated_at"] if has_updated_at else []),
            )
        counts.add(
            table,
            created=len(to_create),
            updated=len(to_update),
            unchanged=len(chunk) - len(to_create) - len(to_update),
        )
        done += len(chunk)
        if progress:
            progress(done, len(items))
    return ids


# --- scores and severities -------------------------------------------------------------------

_SEVERITY_WORDS = {
    "critical": SeverityTier.CRITICAL,
    "high": SeverityTier.HIGH,
    "important": SeverityTier.HIGH,
    "medium": SeverityTier.MEDIUM,
    "moderate": SeverityTier.MEDIUM,
    "low": SeverityTier.LOW,
    "negligible": SeverityTier.LOW,
}


def severity_from_text(text: str | None) -> str:
    """Vendor words (MSRC Important/Moderate, Ubuntu priorities, Debian urgencies) → tier."""
    word = (text or "").strip().lower().rstrip("*").strip()
    return _SEVERITY_WORDS.get(word, SeverityTier.UNKNOWN)


def severity_from_score(score: Decimal | float | None) -> str:
    if score is None:
        return SeverityTier.UNKNOWN
    value = Decimal(str(score))
    if value >= 9:
        return SeverityTier.CRITICAL
    if value >= 7:
        return SeverityTier.HIGH
    if value >= 4:
        return SeverityTier.MEDIUM
    if value > 0:
        return SeverityTier.LOW
    return SeverityTier.UNKNOWN


def _score(value: Any) -> Decimal:
    try:
        return Decimal(str(value)).quantize(Decimal("0.1"))
    except InvalidOperation as exc:
        raise ImportFileError(f"bad CVSS score {value!r}") from exc


def parse_cvss3(vector: str | None) -> tuple[str, Decimal] | None:
    """(clean vector, base score) from a CVSS v3.x vector via the ``cvss`` library, or None."""
    if not vector:
        return None
    try:
        parsed = CVSS3(vector.strip())
    except Exception:  # the cvss library raises its own CVSS3MalformedError family
        return None
    return parsed.clean_vector(), _score(parsed.base_score)


def parse_cvss4(vector: str | None) -> tuple[str, Decimal] | None:
    """(vector as given, base score) from a CVSS v4.0 vector, or None when it does not parse."""
    if not vector:
        return None
    try:
        parsed = CVSS4(vector.strip())
    except Exception:  # CVSS4MalformedError and friends
        return None
    return vector.strip(), _score(parsed.base_score)
