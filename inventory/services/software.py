"""The software and pending-update tables of ingested devices, set-based: software goes through
``COPY`` into a temporary table and one ``INSERT … ON CONFLICT``; changes are recorded as
``SoftwareChange`` rows."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection

from common.bulkinsert import insert_instances
from inventory.categories import _categorise
from inventory.choices import SoftwareChangeKind
from inventory.models import Asset, DiscoveryRun, InstalledSoftware, PendingUpdate, SoftwareChange
from inventory.payload import Device, SoftwareRow, UpdateRow

if TYPE_CHECKING:
    from inventory.services.ingest import IngestSummary


SOFTWARE_SEEN_GRANULARITY = timedelta(hours=6)


_SW_COLUMNS = ("asset_id", "kind", "name", "arch", "version", "vendor", "category", "install_date")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(row: tuple) -> str:
    """One COPY text-format line of a software row (fast path when nothing needs escaping)."""
    text = f"{row[0]}\t{row[1]}\t{row[2]}\t{row[3]}\t{row[4]}\t{row[5]}\t{row[6]}"
    if text.count("\t") != 6 or "\\" in text or "\n" in text or "\r" in text:
        text = "\t".join(str(v).translate(_COPY_ESCAPES) for v in row[:7])
    return f"{text}\t\\N" if row[7] is None else f"{text}\t{row[7].isoformat()}"


def upsert_software_rows(
    rows: list[tuple],
    *,
    now: datetime,
    stored: list[tuple] | None = None,
    fresh: list[tuple] | None = None,
) -> None:
    """Write software rows ``(asset_id, kind, name, arch, version, vendor, category, date)``.

    ``stored`` are rows known to exist, each with its id first: they are updated in place by
    one ``UPDATE … FROM`` joined on the primary key (no conflict resolution per row); ``rows``
    go through ``INSERT … ON CONFLICT``. Both are loaded with one ``COPY``. ``fresh`` are rows of
    assets created in this transaction (none of theirs can be stored yet, and a device's rows
    are unique): one ``COPY`` straight into the table."""
    stored = stored or []
    table = InstalledSoftware._meta.db_table
    if fresh:
        _copy_fresh(fresh, now=now)
    if not rows and not stored:
        return
    buffer = io.StringIO()
    lines = [f"\\N\t{_copy_line(r)}" for r in rows]
    lines.extend(f"{r[0]}\t{_copy_line(r[1:])}" for r in stored)
    buffer.write("\n".join(lines))
    buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS inventory_software_rows ("
            "id bigint, asset_id bigint, kind text, name text, arch text, version text, "
            "vendor text, category text, install_date date)"
        )
        cursor.execute("TRUNCATE inventory_software_rows")
        cursor.cursor.copy_expert(
            f"COPY inventory_software_rows (id, {', '.join(_SW_COLUMNS)}) FROM STDIN", buffer
        )
        if rows:
            cursor.execute(
                f"""
                INSERT INTO {table} (asset_id, kind, name, arch, version, vendor, category,
                                     install_date, first_seen, last_seen, updated_at)
                SELECT asset_id, kind, name, arch, version, vendor, category, install_date,
                       %s, %s, %s
                FROM inventory_software_rows WHERE id IS NULL
                ON CONFLICT (asset_id, kind, name, arch) DO UPDATE SET
                    version = EXCLUDED.version, vendor = EXCLUDED.vendor,
                    category = EXCLUDED.category, install_date = EXCLUDED.install_date,
                    last_seen = EXCLUDED.last_seen, updated_at = EXCLUDED.updated_at
                """,
                [now, now, now],
            )
        if stored:
            cursor.execute(
                f"""
                UPDATE {table} AS s SET
                    version = r.version, vendor = r.vendor, category = r.category,
                    install_date = r.install_date, last_seen = %s, updated_at = %s
                FROM inventory_software_rows AS r
                WHERE r.id IS NOT NULL AND s.id = r.id
                """,
                [now, now],
            )


def _copy_fresh(rows: list[tuple], *, now: datetime) -> None:
    stamps = f"\t{now.isoformat()}" * 3
    buffer = io.StringIO()
    buffer.write("\n".join(f"{_copy_line(r)}{stamps}" for r in rows))
    buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {InstalledSoftware._meta.db_table} ({', '.join(_SW_COLUMNS)}, "
            "first_seen, last_seen, updated_at) FROM STDIN",
            buffer,
        )


def _sync_software(
    chunk: list[Device],
    assets: list[Asset],
    prior: list[set[str]],
    is_new: list[bool],
    *,
    now: datetime,
    run: DiscoveryRun | None,
    summary: IngestSummary,
) -> dict[int, dict[str, Any]]:
    """Bring each asset's software of the reported tables to what the device reported."""
    reporting = {a.pk: d for d, a in zip(chunk, assets, strict=True) if d.software}
    changes_by_asset: dict[int, dict[str, Any]] = {}
    if not reporting:
        return changes_by_asset
    prior_by_asset = {a.pk: p for a, p in zip(assets, prior, strict=True)}
    existing: dict[tuple[int, str], dict[tuple[str, str], tuple]] = {}
    known = [a.pk for a, new in zip(assets, is_new, strict=True) if not new and a.pk in reporting]
    if known:
        # One plain statement, rows as tuples (no model or queryset machinery per row).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, asset_id, kind, name, arch, version, vendor, category, install_date, "
                f"last_seen FROM {InstalledSoftware._meta.db_table} WHERE asset_id = ANY(%s)",
                [known],
            )
            for row in cursor.fetchall():
                existing.setdefault((row[1], row[2]), {})[(row[3], row[4])] = row
    write: list[tuple] = []
    fresh: list[tuple] = []
    new_assets = {a.pk for a, new in zip(assets, is_new, strict=True) if new}
    # Rows already stored whose version, vendor, category or install date changed, with their
    # id: one UPDATE … FROM of a COPY-loaded table, no conflict resolution per row.
    rewrite: list[tuple] = []
    touch: list[int] = []
    # Unchanged rows get their last_seen refreshed at most every few hours, so a fleet that
    # reports hourly does not rewrite every software row on every push.
    touch_before = now - SOFTWARE_SEEN_GRANULARITY
    delete: list[int] = []
    change_rows: list[tuple] = []
    for asset_id, device in reporting.items():
        record = prior_by_asset[asset_id]
        added = tracked_added = removed = upgraded = 0
        samples: list[str] = []
        for kind, rows in device.software.items():
            summary.software_rows += len(rows)
            old = existing.get((asset_id, kind), {})
            track = kind in record
            for sw in rows:
                category = _categorise(kind, sw.name, sw.vendor)
                before = old.pop((sw.name, sw.arch), None)
                line = (
                    asset_id,
                    kind,
                    sw.name,
                    sw.arch,
                    sw.version,
                    sw.vendor,
                    category,
                    sw.install_date,
                )
                if before is None:
                    (fresh if asset_id in new_assets else write).append(line)
                    added += 1
                    if track:
                        tracked_added += 1
                        change_rows.append(
                            _change(asset_id, SoftwareChangeKind.INSTALLED, sw, "", now, run)
                        )
                        if len(samples) < 10:
                            samples.append(f"+{sw.name} {sw.version}".strip())
                    continue
                if before[5] != sw.version:
                    upgraded += 1
                    change_rows.append(
                        _change(asset_id, SoftwareChangeKind.UPGRADED, sw, before[5], now, run)
                    )
                    if len(samples) < 10:
                        samples.append(f"{sw.name} {before[5]} → {sw.version}")
                if (before[5], before[6], before[7], before[8]) != (
                    sw.version,
                    sw.vendor,
                    category,
                    sw.install_date,
                ):
                    rewrite.append((before[0], *line))
                elif before[9] < touch_before:
                    touch.append(before[0])
            for (name, arch), gone in old.items():
                delete.append(gone[0])
                removed += 1
                change_rows.append(
                    (
                        asset_id,
                        SoftwareChangeKind.REMOVED,
                        kind,
                        name,
                        arch,
                        gone[5],
                        "",
                        now,
                        run.pk if run else None,
                    )
                )
                if len(samples) < 10:
                    samples.append(f"-{name} {gone[5]}".strip())
        # The first report of a table is the baseline, not a list of installations.
        added_changes = tracked_added
        summary.software_added += added
        summary.software_removed += removed
        summary.software_upgraded += upgraded
        if added_changes or removed or upgraded:
            changes_by_asset[asset_id] = {
                "installed": added_changes,
                "removed": removed,
                "upgraded": upgraded,
                "examples": samples,
            }
    if delete:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {InstalledSoftware._meta.db_table} WHERE id = ANY(%s)", [delete]
            )
    if touch:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {InstalledSoftware._meta.db_table} SET last_seen = %s WHERE id = ANY(%s)",
                [now, touch],
            )
    upsert_software_rows(write, now=now, stored=rewrite, fresh=fresh)
    if change_rows:
        _copy_changes(change_rows)
    return changes_by_asset


_CHANGE_COLUMNS = (
    "asset_id",
    "change",
    "kind",
    "name",
    "arch",
    "from_version",
    "to_version",
    "at",
    "run_id",
)


def _change_line(values: tuple) -> str:
    """One COPY text-format line of a change record (fast path when nothing needs escaping)."""
    asset_id, change, kind, name, arch, from_version, to_version, at, run_id = values
    text = f"{name}\t{arch}\t{from_version}\t{to_version}"
    if text.count("\t") != 3 or "\\" in text or "\n" in text or "\r" in text:
        text = "\t".join(
            str(v).translate(_COPY_ESCAPES) for v in (name, arch, from_version, to_version)
        )
    run = "\\N" if run_id is None else run_id
    return f"{asset_id}\t{change!s}\t{kind!s}\t{text}\t{at!s}\t{run}"


def _copy_changes(changes: list[tuple]) -> None:
    """COPY the change records (tuples in ``_CHANGE_COLUMNS`` order) straight into their table."""
    buffer = io.StringIO()
    buffer.write("\n".join(_change_line(values) for values in changes))
    buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {SoftwareChange._meta.db_table} ({', '.join(_CHANGE_COLUMNS)}) FROM STDIN",
            buffer,
        )


def _change(
    asset_id: int, change: str, sw: SoftwareRow, from_version: str, now: datetime, run
) -> tuple:
    return (
        asset_id,
        change,
        sw.kind,
        sw.name,
        sw.arch,
        from_version,
        sw.version,
        now,
        run.pk if run else None,
    )


_UPDATE_FIELDS = [
    "installed_version",
    "available_version",
    "advisory",
    "cves",
    "severity",
    "reboot_required",
]


def _sync_pending_updates(
    chunk: list[Device], assets: list[Asset], *, now: datetime, summary: IngestSummary
) -> None:
    """Replace the pending updates of each asset that reported them (unchanged rows stay)."""
    reporting = {
        a.pk: d.pending_updates
        for d, a in zip(chunk, assets, strict=True)
        if d.pending_updates is not None
    }
    if not reporting:
        return
    existing: dict[tuple[int, str, str], PendingUpdate] = {
        (p.asset_id, p.source, p.name): p
        for p in PendingUpdate.objects.filter(asset_id__in=list(reporting))
    }
    write: list[PendingUpdate] = []
    for asset_id, updates in reporting.items():
        summary.pending_updates += len(updates)
        for update in updates:
            key = (asset_id, update.source, update.name)
            before = existing.pop(key, None)
            values = _update_values(update)
            if before is not None and all(getattr(before, f) == values[f] for f in _UPDATE_FIELDS):
                continue
            write.append(
                PendingUpdate(
                    asset_id=asset_id,
                    name=update.name,
                    source=update.source,
                    reported_at=now,
                    **values,
                )
            )
    if existing:
        PendingUpdate.objects.filter(pk__in=[p.pk for p in existing.values()]).delete()
    if write:
        insert_instances(
            write,
            conflict=["asset", "source", "name"],
            update=_UPDATE_FIELDS + ["reported_at"],
        )


def _update_values(update: UpdateRow) -> dict[str, Any]:
    return {
        "installed_version": update.installed_version,
        "available_version": update.available_version,
        "advisory": update.advisory,
        "cves": list(update.cves),
        "severity": update.severity,
        "reboot_required": update.reboot_required,
    }
