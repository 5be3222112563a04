"""Write side of the inventory: ingest discovery payloads, triage unknown devices, staleness,
tagging, snapshots and the supported-software list.

Ingest is set-based: a batch of devices costs a fixed number of queries per chunk of
``CHUNK_SIZE`` devices, whatever the number of software rows (software goes through ``COPY`` into
a temporary table and one ``INSERT … ON CONFLICT``). Everything a call writes happens in one
transaction, after the whole input was validated: a bad payload writes nothing.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from common.csvexport import csv_writer
from common.limits import TEXT_MAX_LENGTH
from evidence.services import actor_label, record_event

from . import hooks
from .categories import _categorise
from .choices import (
    AssetRole,
    AssetSource,
    DataFlow,
    DiscoveryRunSource,
    DiscoveryRunStatus,
    OsFamily,
    SoftwareChangeKind,
    UnknownDeviceState,
)
from .models import (
    Asset,
    AssetClass,
    DiscoveryRun,
    DiscoverySchedule,
    InstalledSoftware,
    InventorySnapshot,
    PatchReport,
    PendingUpdate,
    Site,
    SoftwareChange,
    SoftwarePolicyReview,
    UnknownDevice,
)
from .payload import Device, PayloadError, SoftwareRow, UpdateRow, normalise_mac, validate_payloads

__all__ = [
    "IngestSummary",
    "PayloadError",
    "ingest_payloads",
    "run_ingest",
    "ReconcileSummary",
    "reconcile_scan",
    "run_reconcile",
    "adopt_unknown_device",
    "dismiss_unknown_device",
    "mark_stale_assets",
    "update_discovery_schedule",
    "run_scheduled_discovery",
    "tag_assets",
    "create_snapshot",
    "record_policy_review",
]

CHUNK_SIZE = 500
# Ingests and scans of one client run one at a time (two pushes of a new device would
# otherwise both create it); other clients are not affected.
_INGEST_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':inventory'))"


def _lock_inventory() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_INGEST_LOCK_SQL)


SOFTWARE_SEEN_GRANULARITY = timedelta(hours=6)
_FUTURE_SLACK = timedelta(hours=1)


@dataclass
class IngestSummary:
    devices: int = 0
    assets_created: int = 0
    assets_updated: int = 0
    software_rows: int = 0
    software_added: int = 0
    software_removed: int = 0
    software_upgraded: int = 0
    pending_updates: int = 0
    findings_opened: int = 0
    findings_verified: int = 0
    created_asset_ids: list[int] = field(default_factory=list, repr=False)

    def as_counts(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("created_asset_ids")
        return data

    def __str__(self) -> str:
        return (
            f"{self.devices} device(s): {self.assets_created} asset(s) created, "
            f"{self.assets_updated} updated; software {self.software_added} added, "
            f"{self.software_removed} removed, {self.software_upgraded} upgraded "
            f"({self.software_rows} rows reported); {self.pending_updates} pending update(s); "
            f"findings {self.findings_opened} opened, {self.findings_verified} verified"
        )


# ------------------------------------------------------------------------------------------
# Asset attributes derived from a device


def _os_family(os_info: dict[str, str]) -> str:
    text = f"{os_info.get('platform', '')} {os_info.get('name', '')}".lower()
    if "windows" in text:
        return OsFamily.WINDOWS
    if "darwin" in text or "mac" in text:
        return OsFamily.MACOS
    if re.search(
        r"ubuntu|debian|linux|rhel|red hat|centos|fedora|rocky|alma|suse|amzn|amazon|arch", text
    ):
        return OsFamily.LINUX
    return OsFamily.OTHER


def _default_role(family: str, os_name: str) -> str:
    if family == OsFamily.WINDOWS:
        return AssetRole.SERVER if "server" in os_name.lower() else AssetRole.WORKSTATION
    if family == OsFamily.LINUX:
        return AssetRole.SERVER
    if family == OsFamily.MACOS:
        return AssetRole.WORKSTATION
    return AssetRole.OTHER


def _os_fields(device: Device) -> dict[str, Any]:
    if not device.os:
        return {}
    os_info = device.os
    version = os_info.get("version", "")
    if not version and os_info.get("major"):
        version = ".".join(
            p for p in (os_info.get("major"), os_info.get("minor"), os_info.get("patch")) if p
        )
    return {
        "os_family": _os_family(os_info),
        "os_name": os_info.get("name", "")[:200],
        "os_version": version[:100],
        "os_build": os_info.get("build", "")[:100],
        "os_arch": os_info.get("arch", "")[:30],
    }


def _device_keys(device: Device) -> set[tuple[str, str]]:
    keys = {("h", device.hostname)}
    if device.agent_id:
        keys.add(("a", device.agent_id))
    if device.serial:
        keys.add(("s", device.serial))
    return keys


def _chunks(devices: list[Device], size: int) -> Iterable[list[Device]]:
    """Chunks in which no two devices share an identifier (they are then applied in order)."""
    pending = devices
    while pending:
        chunk: list[Device] = []
        rest: list[Device] = []
        taken: set[tuple[str, str]] = set()
        for device in pending:
            keys = _device_keys(device)
            if len(chunk) < size and not (keys & taken):
                chunk.append(device)
                taken |= keys
            else:
                rest.append(device)
        yield chunk
        pending = rest


def _match_assets(chunk: list[Device]) -> dict[int, Asset | None]:
    """Existing asset of each device (by index): agent id, then serial, then hostname + MAC."""
    agent_ids = [d.agent_id for d in chunk if d.agent_id]
    serials = [d.serial for d in chunk if d.serial]
    hostnames = [d.hostname for d in chunk]
    candidates = list(
        Asset.objects.annotate(lhost=Lower("hostname")).filter(
            Q(agent_id__in=agent_ids) | Q(hardware_serial__in=serials) | Q(lhost__in=hostnames)
        )
    )
    by_agent = {a.agent_id: a for a in candidates if a.agent_id}
    by_serial: dict[str, list[Asset]] = {}
    by_host: dict[str, list[Asset]] = {}
    for asset in candidates:
        if asset.hardware_serial:
            by_serial.setdefault(asset.hardware_serial, []).append(asset)
        by_host.setdefault(asset.lhost, []).append(asset)
    claimed: set[int] = set()
    result: dict[int, Asset | None] = {}
    for i, device in enumerate(chunk):
        match = by_agent.get(device.agent_id) if device.agent_id else None
        if match is None and device.serial:
            options = [a for a in by_serial.get(device.serial, []) if a.pk not in claimed]
            if device.agent_id:
                options = [a for a in options if not a.agent_id or a.agent_id == device.agent_id]
            match = options[0] if len(options) == 1 else None
        if match is None:
            options = [a for a in by_host.get(device.hostname, []) if a.pk not in claimed]
            if device.agent_id:
                options = [a for a in options if not a.agent_id]
            by_mac = [a for a in options if set(a.mac_addresses) & set(device.macs)]
            if len(by_mac) == 1:
                match = by_mac[0]
            else:
                loose = [a for a in options if not a.mac_addresses or not device.macs]
                match = loose[0] if len(loose) == 1 else None
        if match is not None and match.pk in claimed:
            match = None
        if match is not None:
            claimed.add(match.pk)
        result[i] = match
    return result


class _Context:
    """Lookups resolved once per ingest call (asset classes and sites)."""

    def __init__(self, devices: list[Device]):
        self.classes = {c.key: c for c in AssetClass.objects.all()}
        errors: dict[str, list[str]] = {}
        for i, device in enumerate(devices):
            key = device.attributes.get("asset_class")
            if key and key not in self.classes:
                errors[f"[{i}].patchops.asset_class"] = [
                    f"Unknown asset class {key!r}; known: {', '.join(sorted(self.classes))}."
                ]
        if errors:
            raise PayloadError(errors)
        self.sites: dict[str, Site] = {}

    def site(self, name: str) -> Site | None:
        if not name:
            return None
        if name not in self.sites:
            self.sites[name], _ = Site.objects.get_or_create(name=name)
        return self.sites[name]


_ASSET_UPDATE_FIELDS = [
    "hostname",
    "agent_id",
    "hardware_serial",
    "mac_addresses",
    "ip_addresses",
    "os_family",
    "os_name",
    "os_version",
    "os_build",
    "os_arch",
    "role",
    "asset_class",
    "site",
    "owner",
    "location",
    "is_ephi",
    "data_flows",
    "is_managed",
    "is_stale",
    "last_seen",
    "software_tables",
    "has_reported_updates",
    "updated_at",
]


def _apply_attributes(asset: Asset, device: Device, ctx: _Context) -> None:
    attrs = device.attributes
    if "role" in attrs:
        asset.role = attrs["role"]
    if attrs.get("asset_class"):
        asset.asset_class = ctx.classes[attrs["asset_class"]]
    if "owner" in attrs:
        asset.owner = attrs["owner"]
    if "location" in attrs:
        asset.location = attrs["location"]
    if "site" in attrs:
        asset.site = ctx.site(attrs["site"])
    if "is_ephi" in attrs:
        asset.is_ephi = attrs["is_ephi"]
    if "data_flows" in attrs:
        asset.data_flows = attrs["data_flows"]


def _update_assets(assets: list[Asset], field_names: list[str]) -> None:
    """One ``UPDATE … FROM (VALUES …)`` per 500 assets (Django's bulk_update builds a CASE per
    field and row, which costs far more than the write itself)."""
    fields = [Asset._meta.get_field(name) for name in field_names]
    table = Asset._meta.db_table
    sets = ", ".join(f'"{f.column}" = v."{f.column}"::{f.db_type(connection)}' for f in fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    for start in range(0, len(assets), 500):
        part = assets[start : start + 500]
        params: list[Any] = []
        for asset in part:
            params.append(asset.pk)
            params.extend(f.get_db_prep_save(getattr(asset, f.attname), connection) for f in fields)
        row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS a SET {sets} FROM (VALUES {', '.join([row] * len(part))}) "
                f"AS v(id, {columns}) WHERE a.id = v.id::bigint",
                params,
            )


def _upsert_assets(
    chunk: list[Device], *, source: str, now: datetime, ctx: _Context, summary: IngestSummary
) -> tuple[list[Asset], list[bool], list[set[str]]]:
    """Create or update the assets of a chunk; returns the assets, is-new flags, prior tables."""
    matches = _match_assets(chunk)
    assets: list[Asset] = []
    is_new: list[bool] = []
    prior: list[set[str]] = []
    to_create: list[Asset] = []
    to_update: list[Asset] = []
    for i, device in enumerate(chunk):
        seen = min(device.collected_at or now, now + _FUTURE_SLACK)
        asset = matches[i]
        os_fields = _os_fields(device)
        kinds = set(device.software)
        if asset is None:
            family = os_fields.get("os_family", OsFamily.OTHER)
            role = device.attributes.get("role") or _default_role(
                family, os_fields.get("os_name", "")
            )
            key = AssetClass.CORE_SERVER if role == AssetRole.SERVER else AssetClass.WORKSTATION
            asset = Asset(
                hostname=device.hostname,
                agent_id=device.agent_id,
                hardware_serial=device.serial,
                mac_addresses=device.macs,
                ip_addresses=device.ips,
                role=role,
                asset_class=ctx.classes[key],
                source=source,
                first_seen=seen,
                last_seen=seen,
                software_tables=sorted(kinds),
                has_reported_updates=device.pending_updates is not None,
                **os_fields,
            )
            _apply_attributes(asset, device, ctx)
            to_create.append(asset)
            prior.append(set())
            is_new.append(True)
        else:
            prior.append(set(asset.software_tables))
            asset.hostname = device.hostname
            if device.agent_id:
                asset.agent_id = device.agent_id
            if device.serial:
                asset.hardware_serial = device.serial
            if device.macs:
                asset.mac_addresses = device.macs
            if device.ips:
                asset.ip_addresses = device.ips
            for name, value in os_fields.items():
                # A partial OS report (a build number alone) never erases what is known.
                if value and not (name == "os_family" and value == OsFamily.OTHER):
                    setattr(asset, name, value)
            _apply_attributes(asset, device, ctx)
            asset.is_managed = True
            asset.last_seen = max(asset.last_seen, seen)
            asset.first_seen = min(asset.first_seen, seen)
            asset.is_stale = False
            asset.software_tables = sorted(set(asset.software_tables) | kinds)
            asset.has_reported_updates = (
                asset.has_reported_updates or device.pending_updates is not None
            )
            asset.updated_at = now
            to_update.append(asset)
            is_new.append(False)
        assets.append(asset)
    if to_create:
        Asset.objects.bulk_create(to_create)
        summary.assets_created += len(to_create)
        summary.created_asset_ids.extend(a.pk for a in to_create)
    if to_update:
        _update_assets(to_update, _ASSET_UPDATE_FIELDS + ["first_seen"])
        summary.assets_updated += len(to_update)
    return assets, is_new, prior


# ------------------------------------------------------------------------------------------
# Software: COPY into a temporary table, then one INSERT … ON CONFLICT

_SW_COLUMNS = ("asset_id", "kind", "name", "arch", "version", "vendor", "category", "install_date")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(row: tuple) -> str:
    """One COPY text-format line of a software row (fast path when nothing needs escaping)."""
    text = f"{row[0]}\t{row[1]}\t{row[2]}\t{row[3]}\t{row[4]}\t{row[5]}\t{row[6]}"
    if text.count("\t") != 6 or "\\" in text or "\n" in text or "\r" in text:
        text = "\t".join(str(v).translate(_COPY_ESCAPES) for v in row[:7])
    return f"{text}\t\\N" if row[7] is None else f"{text}\t{row[7].isoformat()}"


def upsert_software_rows(rows: list[tuple], *, now: datetime) -> None:
    """Write software rows ``(asset_id, kind, name, arch, version, vendor, category, date)``."""
    if not rows:
        return
    table = InstalledSoftware._meta.db_table
    buffer = io.StringIO()
    buffer.write("\n".join(_copy_line(r) for r in rows))
    buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS inventory_software_load ("
            "asset_id bigint, kind text, name text, arch text, version text, vendor text, "
            "category text, install_date date)"
        )
        cursor.execute("TRUNCATE inventory_software_load")
        cursor.cursor.copy_expert(
            f"COPY inventory_software_load ({', '.join(_SW_COLUMNS)}) FROM STDIN", buffer
        )
        cursor.execute(
            f"""
            INSERT INTO {table} (asset_id, kind, name, arch, version, vendor, category,
                                 install_date, first_seen, last_seen)
            SELECT asset_id, kind, name, arch, version, vendor, category, install_date, %s, %s
            FROM inventory_software_load
            ON CONFLICT (asset_id, kind, name, arch) DO UPDATE SET
                version = EXCLUDED.version, vendor = EXCLUDED.vendor,
                category = EXCLUDED.category, install_date = EXCLUDED.install_date,
                last_seen = EXCLUDED.last_seen
            """,
            [now, now],
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
    for row in InstalledSoftware.objects.filter(asset_id__in=known).values_list(
        "id",
        "asset_id",
        "kind",
        "name",
        "arch",
        "version",
        "vendor",
        "category",
        "install_date",
        "last_seen",
    ):
        existing.setdefault((row[1], row[2]), {})[(row[3], row[4])] = row
    write: list[tuple] = []
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
                    write.append(line)
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
                    write.append(line)
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
    upsert_software_rows(write, now=now)
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


def _copy_changes(changes: list[tuple]) -> None:
    """COPY the change records (tuples in ``_CHANGE_COLUMNS`` order) straight into their table."""
    buffer = io.StringIO()
    for values in changes:
        buffer.write(
            "\t".join("\\N" if v is None else str(v).translate(_COPY_ESCAPES) for v in values)
        )
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
        PendingUpdate.objects.bulk_create(
            write,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["asset", "source", "name"],
            update_fields=_UPDATE_FIELDS + ["reported_at"],
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


def ingest_payloads(
    *,
    devices: list[Device],
    source: str,
    actor: Any = None,
    run: DiscoveryRun | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    record_events: bool = True,
    findings: bool = True,
) -> IngestSummary:
    """Upsert validated devices into the current client's schema (one transaction).

    With ``findings`` (the default), the touched assets' findings follow in the same
    transaction (``patchops.pipeline.refresh_findings``): opened, re-tiered, verified."""
    now = timezone.now()
    summary = IngestSummary(devices=len(devices))
    with transaction.atomic():
        _lock_inventory()
        ctx = _Context(devices)
        done = 0
        touched: list[int] = []
        for chunk in _chunks(devices, chunk_size):
            assets, is_new, prior = _upsert_assets(
                chunk, source=source, now=now, ctx=ctx, summary=summary
            )
            touched.extend(a.pk for a in assets)
            changes = _sync_software(
                chunk, assets, prior, is_new, now=now, run=run, summary=summary
            )
            _sync_pending_updates(chunk, assets, now=now, summary=summary)
            _record_patch_reports(chunk, assets, now=now, run=run)
            if record_events:
                _record_chunk_events(assets, is_new, changes, source=source, actor=actor, run=run)
            done += len(chunk)
            if progress:
                progress(done, len(devices))
        hooks.assets_recorded(asset_ids=touched, at=now)  # new managed devices get their ring
        if findings:
            # Findings follow the inventory in the same transaction (advisory matches,
            # pending updates, verification of fixes now installed).
            from patchops.pipeline import refresh_findings

            refreshed = refresh_findings(asset_ids=touched, at=now)
            summary.findings_opened = refreshed.opened + refreshed.reopened
            summary.findings_verified = refreshed.verified
    return summary


def _record_patch_reports(
    chunk: list[Device], assets: list[Asset], *, now: datetime, run: DiscoveryRun | None
) -> None:
    """One ``PatchReport`` per device that reported a software table or its pending updates
    (a device reporting only its system info is seen, not reporting)."""
    rows = [
        PatchReport(
            asset=asset,
            reported_at=min(device.collected_at or now, now + _FUTURE_SLACK),
            run=run,
        )
        for device, asset in zip(chunk, assets, strict=True)
        if device.software or device.pending_updates is not None
    ]
    if rows:
        PatchReport.objects.bulk_create(rows)


def _record_chunk_events(
    assets: list[Asset],
    is_new: list[bool],
    changes: dict[int, dict[str, Any]],
    *,
    source: str,
    actor: Any,
    run: DiscoveryRun | None,
) -> None:
    """One ``asset.discovered`` and one ``software.changed`` event per chunk (not per row)."""
    subject_id = run.uuid if run else "ingest"
    created = [
        {"id": str(a.uuid), "hostname": a.hostname}
        for a, new in zip(assets, is_new, strict=True)
        if new
    ]
    if created:
        record_event(
            kind="asset.discovered",
            subject_type="discovery_run",
            subject_id=subject_id,
            actor=actor,
            payload={"source": source, "assets": created},
        )
    if changes:
        per_asset = [
            {"id": str(a.uuid), "hostname": a.hostname, **changes[a.pk]}
            for a in assets
            if a.pk in changes
        ]
        totals = {
            key: sum(c[key] for c in changes.values())
            for key in ("installed", "removed", "upgraded")
        }
        record_event(
            kind="software.changed",
            subject_type="discovery_run",
            subject_id=subject_id,
            actor=actor,
            payload={"source": source, "totals": totals, "assets": per_asset},
        )


def run_ingest(
    *,
    data: Any,
    source: str,
    run_source: str,
    source_name: str = "",
    fmt: str = "",
    actor: Any = None,
    progress: Callable[[int, int], None] | None = None,
    findings: bool = True,
) -> tuple[DiscoveryRun, IngestSummary]:
    """Validate ``data`` (one payload or a list), ingest it and record the DiscoveryRun.

    Raises PayloadError (nothing written) when any device is invalid.
    """
    devices = validate_payloads(data)
    started = timezone.now()
    with transaction.atomic():
        run = DiscoveryRun.objects.create(
            source=run_source,
            source_name=source_name[:200],
            format=fmt,
            actor=actor_label(actor)[:200],
            started_at=started,
        )
        summary = ingest_payloads(
            devices=devices,
            source=source,
            actor=actor,
            run=run,
            progress=progress,
            findings=findings,
        )
        run.status = DiscoveryRunStatus.SUCCEEDED
        run.finished_at = max(timezone.now(), started)
        run.counts = summary.as_counts()
        run.save(update_fields=["status", "finished_at", "counts"])
    return run, summary


# ------------------------------------------------------------------------------------------
# Nmap reconciliation and unknown-device triage


@dataclass
class ReconcileSummary:
    hosts_up: int = 0
    matched_assets: int = 0
    unknown_new: int = 0
    unknown_refreshed: int = 0
    ignored: int = 0


def _valid_ip(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _int(value: Any) -> int:
    try:
        return max(0, min(100, int(value or 0)))
    except (TypeError, ValueError):
        return 0


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int) -> str:
    """A scanned text field as stored: text only (anything else is empty), NUL removed (no
    PostgreSQL text or JSON value may hold it), at most ``limit`` characters."""
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""


def _clean_json(value: Any) -> Any:
    """A scanned JSON value without NUL characters in any string, key or nested value."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {_clean_json(str(k)): _clean_json(v) for k, v in value.items()}
    return value


def reconcile_scan(
    hosts: list[dict[str, Any]], *, source_name: str, actor: Any = None
) -> ReconcileSummary:
    """Match scanned hosts to managed assets by IP or MAC; the rest become unknown devices."""
    now = timezone.now()
    summary = ReconcileSummary()
    with transaction.atomic():
        _lock_inventory()
        up = []
        taken: set[str] = set()
        for host in hosts:
            if not isinstance(host, dict) or host.get("status") != "up":
                summary.ignored += 1
                continue
            raw_mac = host.get("mac")
            mac = (normalise_mac(raw_mac) if isinstance(raw_mac, str) else None) or ""
            ip = _valid_ip(host.get("ip")) or _valid_ip(host.get("ipv6"))
            key = mac or ip or ""
            if not key or key in taken:  # no address, or the same host listed twice
                summary.ignored += 1
                continue
            taken.add(key)
            up.append((host, ip, mac))
        summary.hosts_up = len(up)
        ips = [ip for _, ip, _ in up if ip]
        macs = [mac for _, _, mac in up if mac]
        known = Asset.objects.filter(
            Q(ip_addresses__overlap=ips or ["0.0.0.0"]) | Q(mac_addresses__overlap=macs or [""])
        ).values_list("pk", "ip_addresses", "mac_addresses", "last_seen")
        known_ips: dict[str, int] = {}
        known_macs: dict[str, int] = {}
        for pk, asset_ips, asset_macs, _ in known:
            for value in asset_ips:
                known_ips[value] = pk
            for value in asset_macs:
                known_macs[value] = pk
        existing_by_mac = {
            d.mac: d for d in UnknownDevice.objects.filter(mac__in=macs or ["-"]).exclude(mac="")
        }
        existing_by_ip = {
            str(d.ip): d for d in UnknownDevice.objects.filter(ip__in=ips or ["0.0.0.0"], mac="")
        }
        seen_assets: set[int] = set()
        for host, ip, mac in up:
            asset_pk = (known_macs.get(mac) if mac else None) or (known_ips.get(ip) if ip else None)
            if asset_pk:
                summary.matched_assets += 1
                seen_assets.add(asset_pk)
                continue
            hostnames = [_text(h, 255) for h in _list(host.get("hostnames")) if _text(h, 255)][:20]
            guesses = [
                {"name": _text(g.get("name", ""), 200), "accuracy": _int(g.get("accuracy"))}
                for g in _list(host.get("os_guesses"))
                if isinstance(g, dict)
            ][:10]
            ports = [_clean_json(p) for p in _list(host.get("open_ports")) if isinstance(p, dict)][
                :200
            ]
            vendor = _text(host.get("mac_vendor"), 200)
            device = existing_by_mac.get(mac) if mac else existing_by_ip.get(ip or "")
            if device is None and mac and ip:
                device = existing_by_ip.get(ip)  # an earlier scan saw it without a MAC
            if device is None:
                device = UnknownDevice.objects.create(
                    ip=ip,
                    mac=mac,
                    mac_vendor=vendor,
                    hostnames=hostnames,
                    os_guesses=guesses,
                    open_ports=ports,
                    source_name=source_name[:200],
                    first_seen=now,
                    last_seen=now,
                )
                summary.unknown_new += 1
                record_event(
                    kind="unknown_device.found",
                    subject_type="unknown_device",
                    subject_id=device.uuid,
                    actor=actor,
                    payload={"ip": ip, "mac": mac, "source": source_name},
                )
            else:
                device.ip = ip or device.ip
                device.mac = mac or device.mac
                device.mac_vendor = vendor or device.mac_vendor
                device.hostnames = hostnames or device.hostnames
                device.os_guesses = guesses or device.os_guesses
                device.open_ports = ports or device.open_ports
                device.source_name = source_name[:200]
                device.last_seen = now
                device.save()
                summary.unknown_refreshed += 1
        if seen_assets:
            Asset.objects.filter(pk__in=seen_assets, last_seen__lt=now).update(
                last_seen=now, is_stale=False
            )
    return summary


def adopt_unknown_device(
    *,
    device: UnknownDevice,
    actor: Any,
    hostname: str = "",
    asset_class: AssetClass | None = None,
    role: str = AssetRole.OTHER,
    os_family: str = OsFamily.OTHER,
) -> Asset:
    """Turn a new unknown device into a managed asset (conditional: only from state new)."""
    from django.core.exceptions import ValidationError

    if role not in AssetRole.values:
        raise ValidationError({"role": f"Must be one of: {', '.join(AssetRole.values)}."})
    if os_family not in OsFamily.values:
        raise ValidationError({"os_family": f"Must be one of: {', '.join(OsFamily.values)}."})
    now = timezone.now()
    with transaction.atomic():
        locked = UnknownDevice.objects.select_for_update().get(pk=device.pk)
        if locked.state != UnknownDeviceState.NEW:
            raise ValidationError({"state": f"This device is already {locked.state}."})
        name = (hostname or locked.display_name or "unknown").strip().lower()[:255]
        asset = Asset.objects.create(
            hostname=name,
            mac_addresses=[locked.mac] if locked.mac else [],
            ip_addresses=[locked.ip] if locked.ip else [],
            os_family=os_family,
            os_name=(locked.os_guesses[0]["name"] if locked.os_guesses else "")[:200],
            role=role,
            asset_class=asset_class or AssetClass.objects.get(key=AssetClass.WORKSTATION),
            is_managed=True,
            source=AssetSource.NMAP,
            first_seen=locked.first_seen,
            last_seen=locked.last_seen,
        )
        UnknownDevice.objects.filter(pk=locked.pk, state=UnknownDeviceState.NEW).update(
            state=UnknownDeviceState.ADOPTED,
            adopted_asset=asset,
            decided_by=actor_label(actor)[:200],
            decided_at=now,
        )
        hooks.assets_recorded(asset_ids=[asset.pk], at=now)
        record_event(
            kind="unknown_device.adopted",
            subject_type="unknown_device",
            subject_id=locked.uuid,
            actor=actor,
            payload={"asset": str(asset.uuid), "hostname": asset.hostname, "role": role},
        )
    device.refresh_from_db()
    return asset


def dismiss_unknown_device(*, device: UnknownDevice, actor: Any, reason: str) -> UnknownDevice:
    from django.core.exceptions import ValidationError

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required to dismiss a device."})
    with transaction.atomic():
        updated = UnknownDevice.objects.filter(pk=device.pk, state=UnknownDeviceState.NEW).update(
            state=UnknownDeviceState.DISMISSED,
            dismiss_reason=reason[:TEXT_MAX_LENGTH],
            decided_by=actor_label(actor)[:200],
            decided_at=timezone.now(),
        )
        if not updated:
            raise ValidationError({"state": "Only a new device can be dismissed."})
        record_event(
            kind="unknown_device.dismissed",
            subject_type="unknown_device",
            subject_id=device.uuid,
            actor=actor,
            payload={"reason": reason[:TEXT_MAX_LENGTH]},
        )
    device.refresh_from_db()
    return device


# ------------------------------------------------------------------------------------------
# Staleness and the scheduled discovery run


def mark_stale_assets(*, stale_after_days: int, now: datetime | None = None) -> int:
    """Assets unseen for ``stale_after_days`` turn stale; returns how many turned stale."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=stale_after_days)
    with transaction.atomic():
        stale = list(
            Asset.objects.filter(is_stale=False, last_seen__lt=cutoff).values_list(
                "pk", "uuid", "hostname"
            )
        )
        if not stale:
            return 0
        Asset.objects.filter(pk__in=[pk for pk, _, _ in stale], is_stale=False).update(
            is_stale=True, updated_at=now
        )
        record_event(
            kind="asset.stale",
            subject_type="inventory",
            subject_id="assets",
            payload={
                "count": len(stale),
                "stale_after_days": stale_after_days,
                "hostnames": [h for _, _, h in stale][:50],
            },
        )
    return len(stale)


def update_discovery_schedule(
    *,
    schedule: DiscoverySchedule,
    actor: Any,
    local_hour: int | None = None,
    weekday: int | None = None,
    is_enabled: bool | None = None,
) -> DiscoverySchedule:
    changes = {
        k: v
        for k, v in {"local_hour": local_hour, "weekday": weekday, "is_enabled": is_enabled}.items()
        if v is not None
    }
    with transaction.atomic():
        before = {k: getattr(schedule, k) for k in changes}
        for key, value in changes.items():
            setattr(schedule, key, value)
        schedule.full_clean()
        schedule.save()
        record_event(
            kind="discovery.schedule_changed",
            subject_type="discovery_schedule",
            subject_id=schedule.pk,
            actor=actor,
            payload={"before": before, "after": changes},
        )
    return schedule


def run_scheduled_discovery(*, client: Any, now: datetime | None = None) -> DiscoveryRun:
    """The scheduled pass: pull-type sources (none built in yet) and staleness, recorded."""
    now = now or timezone.now()
    run = DiscoveryRun.objects.create(
        source=DiscoveryRunSource.SCHEDULE,
        source_name=f"{client.discovery_cadence} schedule",
        actor="system",
        started_at=now,
    )
    errors: list[str] = []
    counts: dict[str, int] = {"pull_sources": 0}
    try:
        counts["assets_turned_stale"] = mark_stale_assets(
            stale_after_days=client.stale_after_days, now=now
        )
    except Exception as exc:  # noqa: BLE001 - recorded on the run, never lost
        errors.append(f"staleness: {exc}")
    counts["assets_total"] = Asset.objects.count()
    counts["assets_stale"] = Asset.objects.filter(is_stale=True).count()
    DiscoveryRun.objects.filter(pk=run.pk).update(
        finished_at=max(timezone.now(), now),
        counts=counts,
        errors=errors,
        status=DiscoveryRunStatus.FAILED if errors else DiscoveryRunStatus.SUCCEEDED,
    )
    run.refresh_from_db()
    return run


# ------------------------------------------------------------------------------------------
# Tagging


def tag_assets(
    *,
    assets: list[Asset],
    actor: Any,
    is_ephi: bool | None = None,
    data_flows: list[str] | None = None,
) -> int:
    """Set the ePHI flag and/or the data-flow tags of assets; one event per changed asset."""
    from django.core.exceptions import ValidationError

    if is_ephi is None and data_flows is None:
        raise ValidationError({"detail": "Give is_ephi and/or data_flows."})
    if data_flows is not None:
        bad = [f for f in data_flows if f not in DataFlow.values]
        if bad:
            raise ValidationError(
                {"data_flows": f"Unknown data flow(s) {bad}; use {', '.join(DataFlow.values)}."}
            )
        data_flows = [f for f in DataFlow.values if f in data_flows]
    changed = 0
    with transaction.atomic():
        for asset in Asset.objects.select_for_update().filter(pk__in=[a.pk for a in assets]):
            before = {"is_ephi": asset.is_ephi, "data_flows": list(asset.data_flows)}
            if is_ephi is not None:
                asset.is_ephi = is_ephi
            if data_flows is not None:
                asset.data_flows = data_flows
            after = {"is_ephi": asset.is_ephi, "data_flows": list(asset.data_flows)}
            if before == after:
                continue
            asset.save(update_fields=["is_ephi", "data_flows", "updated_at"])
            changed += 1
            record_event(
                kind="asset.tagged",
                subject_type="asset",
                subject_id=asset.uuid,
                actor=actor,
                payload={"hostname": asset.hostname, "before": before, "after": after},
            )
    return changed


# ------------------------------------------------------------------------------------------
# Snapshots and the software list review

SNAPSHOT_COLUMNS = [
    "record",
    "asset_id",
    "hostname",
    "os_family",
    "os_name",
    "os_version",
    "role",
    "asset_class",
    "ephi_system",
    "data_flows",
    "managed",
    "stale",
    "owner",
    "location",
    "first_seen",
    "last_seen",
    "software_kind",
    "software_name",
    "software_version",
    "software_vendor",
    "software_category",
]


def _snapshot_content(taken_on: date) -> tuple[bytes, bytes, int, int]:
    assets = list(Asset.objects.select_related("asset_class").order_by("hostname", "pk"))
    software: dict[int, list[tuple]] = {}
    for row in InstalledSoftware.objects.order_by("asset_id", "kind", "name", "arch").values_list(
        "asset_id", "kind", "name", "version", "vendor", "category"
    ):
        software.setdefault(row[0], []).append(row[1:])
    text = io.StringIO()
    writer = csv_writer(text, lineterminator="\n")
    writer.writerow(SNAPSHOT_COLUMNS)
    devices = []
    count = 0
    for a in assets:
        base = [
            str(a.uuid),
            a.hostname,
            a.os_family,
            a.os_name,
            a.os_version,
            a.role,
            a.asset_class.key,
            "yes" if a.is_ephi else "no",
            ";".join(a.data_flows),
            "yes" if a.is_managed else "no",
            "yes" if a.is_stale else "no",
            a.owner,
            a.location,
            a.first_seen.isoformat(),
            a.last_seen.isoformat(),
        ]
        writer.writerow(["device", *base, "", "", "", "", ""])
        rows = software.get(a.pk, [])
        count += len(rows)
        for kind, name, version, vendor, category in rows:
            software_cells = [kind, name, version, vendor, category]
            writer.writerow(["software", *base[:2], *[""] * 13, *software_cells])
        devices.append(
            {
                "id": str(a.uuid),
                "hostname": a.hostname,
                "os_family": a.os_family,
                "os_name": a.os_name,
                "os_version": a.os_version,
                "role": a.role,
                "asset_class": a.asset_class.key,
                "ephi": a.is_ephi,
                "data_flows": list(a.data_flows),
                "managed": a.is_managed,
                "stale": a.is_stale,
                "owner": a.owner,
                "location": a.location,
                "first_seen": a.first_seen.isoformat(),
                "last_seen": a.last_seen.isoformat(),
                "software": [
                    {"kind": k, "name": n, "version": v, "vendor": ven, "category": c}
                    for k, n, v, ven, c in rows
                ],
            }
        )
    document = {"taken_on": taken_on.isoformat(), "devices": devices}
    json_bytes = json.dumps(document, indent=1, ensure_ascii=False).encode()
    return text.getvalue().encode(), json_bytes, len(assets), count


def create_snapshot(
    *, client: Any, actor: Any = None, scheduled: bool = False, now: datetime | None = None
) -> InventorySnapshot:
    """A date-stamped CSV + JSON export of devices and software, stored with their SHA-256."""
    now = now or timezone.now()
    local = timezone.localtime(now, client.tz).date()
    month = local.replace(day=1)
    with transaction.atomic():
        if scheduled:
            existing = InventorySnapshot.objects.filter(month=month, is_scheduled=True).first()
            if existing:
                return existing
        csv_bytes, json_bytes, assets, software = _snapshot_content(local)
        stamp = f"{client.slug}-inventory-{local.isoformat()}-{now:%H%M%S}"
        snapshot = InventorySnapshot(
            month=month,
            taken_on=local,
            csv_sha256=hashlib.sha256(csv_bytes).hexdigest(),
            json_sha256=hashlib.sha256(json_bytes).hexdigest(),
            asset_count=assets,
            software_count=software,
            is_scheduled=scheduled,
            created_by=actor_label(actor)[:200],
        )
        snapshot.csv_file.save(f"{stamp}.csv", ContentFile(csv_bytes), save=False)
        snapshot.json_file.save(f"{stamp}.json", ContentFile(json_bytes), save=False)
        snapshot.save()
        record_event(
            kind="inventory.snapshot_created",
            subject_type="inventory_snapshot",
            subject_id=snapshot.uuid,
            actor=actor,
            payload={
                "taken_on": local.isoformat(),
                "csv_sha256": snapshot.csv_sha256,
                "json_sha256": snapshot.json_sha256,
                "assets": assets,
                "software": software,
            },
        )
    return snapshot


def record_policy_review(
    *, actor: Any, notes: str = "", on: date | None = None
) -> SoftwarePolicyReview:
    with transaction.atomic():
        review = SoftwarePolicyReview.objects.create(
            reviewed_on=on or timezone.localdate(),
            reviewed_by=actor_label(actor)[:200],
            notes=notes,
        )
        record_event(
            kind="software_policy.reviewed",
            subject_type="software_policy",
            subject_id=review.pk,
            actor=actor,
            payload={"reviewed_on": review.reviewed_on.isoformat(), "notes": notes[:500]},
        )
    return review


def run_reconcile(
    *, hosts: list[dict[str, Any]], source_name: str, actor: Any = None
) -> tuple[DiscoveryRun, ReconcileSummary]:
    """Reconcile a network scan and record it as a DiscoveryRun (one transaction)."""
    started = timezone.now()
    with transaction.atomic():
        summary = reconcile_scan(hosts, source_name=source_name, actor=actor)
        run = DiscoveryRun.objects.create(
            source=DiscoveryRunSource.NMAP,
            source_name=source_name[:200],
            format="nmap",
            actor=actor_label(actor)[:200],
            started_at=started,
            finished_at=max(timezone.now(), started),
            status=DiscoveryRunStatus.SUCCEEDED,
            counts=asdict(summary),
        )
    return run, summary
