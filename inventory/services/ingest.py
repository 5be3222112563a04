"""Ingest of discovery payloads: devices matched to assets and upserted in chunks, then their
software and pending updates (``software``), patch reports, events and the hooks, all in one
transaction after the whole input was validated.

Agents report, they do not decide: a device's own push (a run from ``DiscoveryRunSource.AGENT``)
may create its asset and update what the device knows about itself — host name, identifiers,
addresses, OS, hardware, software, pending updates — but never its business attributes
(``BUSINESS_ATTRIBUTES``: ePHI, data flows, asset class, role, owner, site, location). Those come
from people (the asset pages and API) and from files an operator imports; every change an
import makes to them is an ``asset.attributes_changed`` event."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from common.bulkinsert import insert_instances
from common.choices import OsFamily
from evidence.services import actor_label, record_event
from inventory import hooks
from inventory.choices import AssetRole, DiscoveryRunSource, DiscoveryRunStatus
from inventory.models import (
    Asset,
    AssetClass,
    DiscoveryRun,
    InstallRecordCoverage,
    OsInstallRecord,
    PatchReport,
    Site,
)
from inventory.payload import Device, PayloadError, validate_payloads
from inventory.services.software import _sync_pending_updates, _sync_software

CHUNK_SIZE = 500


# Ingests and scans of one client run one at a time (two pushes of a new device would
# otherwise both create it); other clients are not affected.
_INGEST_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':inventory'))"


def _lock_inventory() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_INGEST_LOCK_SQL)


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
    os_records: int = 0
    os_records_new: int = 0
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
        self._site_names: dict[int, str] | None = None

    def class_key(self, pk: int | None) -> str:
        return next((c.key for c in self.classes.values() if c.pk == pk), "")

    def site_name(self, pk: int | None) -> str:
        if pk is None:
            return ""
        for site in self.sites.values():
            if site is not None and site.pk == pk:
                return site.name
        if self._site_names is None:
            self._site_names = dict(Site.objects.values_list("pk", "name"))
        return self._site_names.get(pk, "")

    def site(self, name: str) -> Site | None:
        if not name:
            return None
        if name not in self.sites:
            self.sites[name], _ = Site.objects.get_or_create(name=name)
        return self.sites[name]


def apply_reboot_pending(asset: Asset, pending: bool | None, at: datetime) -> None:
    """What the device said about a pending restart: a newly pending one starts its clock; none
    pending clears the state (and the approval a manual-approval restart waited for). Not sent:
    unchanged."""
    if pending is None:
        return
    if pending:
        if not asset.reboot_pending:
            asset.reboot_pending, asset.reboot_pending_since = True, at
        return
    asset.reboot_pending, asset.reboot_pending_since = False, None
    asset.reboot_approval = ""


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
    "reboot_pending",
    "reboot_pending_since",
    "reboot_approval",
    "updated_at",
]


# What people decide about an asset, never a device's own report (the payload's ``patchops``).
BUSINESS_ATTRIBUTES = (
    "is_ephi",
    "data_flows",
    "asset_class",
    "role",
    "owner",
    "site",
    "location",
)


def _business(asset: Asset, ctx: _Context) -> dict[str, Any]:
    return {
        "is_ephi": asset.is_ephi,
        "data_flows": list(asset.data_flows),
        "asset_class": ctx.class_key(asset.asset_class_id),
        "role": asset.role,
        "owner": asset.owner,
        "site": ctx.site_name(asset.site_id),
        "location": asset.location,
    }


def _attribute_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"before": before[name], "after": after[name]}
        for name in BUSINESS_ATTRIBUTES
        if before[name] != after[name]
    }


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
    chunk: list[Device],
    *,
    source: str,
    now: datetime,
    ctx: _Context,
    summary: IngestSummary,
    business_attributes: bool,
    attribute_changes: dict[int, dict[str, Any]],
) -> tuple[list[Asset], list[bool], list[set[str]]]:
    """Create or update the assets of a chunk; returns the assets, is-new flags, prior tables.

    With ``business_attributes`` the devices' ``patchops`` attributes are applied and what they
    changed is collected in ``attribute_changes`` (by index in the chunk); without, ignored."""
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
            role = _default_role(family, os_fields.get("os_name", ""))
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
            if business_attributes and device.attributes:
                before = _business(asset, ctx)
                _apply_attributes(asset, device, ctx)
                if asset.role != role and "asset_class" not in device.attributes:
                    # The class a new asset gets follows the role the operator gave it.
                    server = asset.role == AssetRole.SERVER
                    asset.asset_class = ctx.classes[
                        AssetClass.CORE_SERVER if server else AssetClass.WORKSTATION
                    ]
                changes = _attribute_changes(before, _business(asset, ctx))
                if changes:
                    attribute_changes[i] = changes
            apply_reboot_pending(asset, device.reboot_pending, seen)
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
            if business_attributes and device.attributes:
                before = _business(asset, ctx)
                _apply_attributes(asset, device, ctx)
                changes = _attribute_changes(before, _business(asset, ctx))
                if changes:
                    attribute_changes[i] = changes
            asset.is_managed = True
            asset.last_seen = max(asset.last_seen, seen)
            asset.first_seen = min(asset.first_seen, seen)
            asset.is_stale = False
            asset.software_tables = sorted(set(asset.software_tables) | kinds)
            asset.has_reported_updates = (
                asset.has_reported_updates or device.pending_updates is not None
            )
            apply_reboot_pending(asset, device.reboot_pending, seen)
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
    business_attributes: bool = False,
) -> IngestSummary:
    """Upsert validated devices into the current client's schema (one transaction).

    With ``findings`` (the default), the touched assets' findings follow in the same
    transaction (``findings.pipeline.refresh_findings``): opened, re-tiered, verified.
    ``business_attributes`` applies the devices' ``patchops`` attributes (an operator's import);
    without it (a device's own report) they are ignored."""
    now = timezone.now()
    summary = IngestSummary(devices=len(devices))
    with transaction.atomic():
        _lock_inventory()
        ctx = _Context(devices)
        done = 0
        touched: list[int] = []
        with_records: list[int] = []
        for chunk in _chunks(devices, chunk_size):
            attribute_changes: dict[int, dict[str, Any]] = {}
            assets, is_new, prior = _upsert_assets(
                chunk,
                source=source,
                now=now,
                ctx=ctx,
                summary=summary,
                business_attributes=business_attributes,
                attribute_changes=attribute_changes,
            )
            touched.extend(a.pk for a in assets)
            changes = _sync_software(
                chunk, assets, prior, is_new, now=now, run=run, summary=summary
            )
            _sync_pending_updates(chunk, assets, now=now, summary=summary)
            _record_patch_reports(chunk, assets, now=now, run=run)
            recorded = _store_install_records(chunk, assets, now=now, run=run, summary=summary)
            with_records.extend(recorded)
            if record_events:
                _record_chunk_events(assets, is_new, changes, source=source, actor=actor, run=run)
            if attribute_changes:
                # Never silent: what an import decided about assets is evidence, always.
                _record_attribute_changes(
                    assets, attribute_changes, source=source, actor=actor, run=run
                )
            done += len(chunk)
            if progress:
                progress(done, len(devices))
        hooks.assets_recorded(asset_ids=touched, at=now)  # new managed devices get their ring
        if findings:
            # Findings follow the inventory in the same transaction (advisory matches,
            # pending updates, verification of fixes now installed): findings.apps registers it.
            counts = hooks.inventory_synced(asset_ids=touched, at=now)
            summary.findings_opened = counts.get("findings_opened", 0)
            summary.findings_verified = counts.get("findings_verified", 0)
        if with_records:
            # Deployments reported installed are checked against what the OS wrote down.
            hooks.install_records_received(asset_ids=with_records, at=now)
    return summary


def _store_install_records(
    chunk: list[Device],
    assets: list[Asset],
    *,
    now: datetime,
    run: DiscoveryRun | None,
    summary: IngestSummary,
) -> list[int]:
    """Keep the OS install records the devices sent (once per asset, source and record id) and
    move each sender's coverage up to its collection time; returns the senders' asset ids."""
    rows: list[OsInstallRecord] = []
    covered: dict[int, tuple[datetime, set[str]]] = {}
    for device, asset in zip(chunk, assets, strict=True):
        if device.install_records is None:
            continue
        through = min(device.collected_at or now, now + _FUTURE_SLACK)
        covered[asset.pk] = (through, {r.source for r in device.install_records})
        for record in device.install_records:
            rows.append(
                OsInstallRecord(
                    asset=asset,
                    source=record.source,
                    record_id=record.record_id,
                    occurred_at=record.occurred_at,
                    outcome=record.outcome,
                    name=record.name,
                    version=record.version,
                    kb=record.kb,
                    detail=record.detail,
                    received_at=now,
                    run=run,
                )
            )
    if not covered:
        return []
    summary.os_records += len(rows)
    if rows:
        before = OsInstallRecord.objects.filter(asset_id__in=list(covered)).count()
        OsInstallRecord.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        summary.os_records_new += (
            OsInstallRecord.objects.filter(asset_id__in=list(covered)).count() - before
        )
    existing = {
        c.asset_id: c for c in InstallRecordCoverage.objects.filter(asset_id__in=list(covered))
    }
    new, changed = [], []
    for asset_id, (through, sources) in covered.items():
        coverage = existing.get(asset_id)
        if coverage is None:
            new.append(
                InstallRecordCoverage(asset_id=asset_id, through=through, sources=sorted(sources))
            )
        else:
            coverage.through = max(coverage.through, through)
            coverage.sources = sorted(set(coverage.sources) | sources)
            changed.append(coverage)
    InstallRecordCoverage.objects.bulk_create(new)
    if changed:
        InstallRecordCoverage.objects.bulk_update(changed, ["through", "sources"])
    return list(covered)


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
        insert_instances(rows)


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


def _record_attribute_changes(
    assets: list[Asset],
    attribute_changes: dict[int, dict[str, Any]],
    *,
    source: str,
    actor: Any,
    run: DiscoveryRun | None,
) -> None:
    """One ``asset.attributes_changed`` event per chunk naming each asset's before and after."""
    record_event(
        kind="asset.attributes_changed",
        subject_type="discovery_run",
        subject_id=run.uuid if run else "ingest",
        actor=actor,
        payload={
            "source": source,
            "assets": [
                {"id": str(assets[i].uuid), "hostname": assets[i].hostname, "changes": changes}
                for i, changes in sorted(attribute_changes.items())
            ],
        },
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
    business_attributes: bool | None = None,
) -> tuple[DiscoveryRun, IngestSummary]:
    """Validate ``data`` (one payload or a list), ingest it and record the DiscoveryRun.

    ``business_attributes`` (default: unless the run is a device's own report, ``run_source``
    agent) applies the payloads' ``patchops`` attributes, each change an event.
    Raises PayloadError (nothing written) when any device is invalid.
    """
    if business_attributes is None:
        business_attributes = run_source != DiscoveryRunSource.AGENT
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
            business_attributes=business_attributes,
        )
        run.status = DiscoveryRunStatus.SUCCEEDED
        run.finished_at = max(timezone.now(), started)
        run.counts = summary.as_counts()
        run.save(update_fields=["status", "finished_at", "counts"])
    return run, summary
