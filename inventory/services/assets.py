"""Changes people make to assets and the inventory's records: business attributes (class, role,
owner, location, site, ePHI, data flows), tags, monthly snapshots and reviews of the
supported-software list.

A change of what the risk score or the SLA clock reads (ePHI, class, role) re-scores the asset's
outstanding findings in the same transaction, through ``inventory.hooks`` (the findings app
registers the re-scoring): the event of the change names each finding's score and due date
before and after."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date, datetime
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from common.csvexport import csv_writer
from evidence.services import actor_label, record_event
from inventory import hooks
from inventory.choices import AssetRole, DataFlow
from inventory.models import (
    Asset,
    AssetClass,
    InstalledSoftware,
    InventorySnapshot,
    Site,
    SoftwarePolicyReview,
)

# What people decide about an asset (never a device's own report), in the order pages show them.
EDITABLE_ATTRIBUTES = (
    "asset_class",
    "role",
    "owner",
    "location",
    "site",
    "is_ephi",
    "data_flows",
)
# The attributes the risk score and the SLA clock read (``findings.risk``, ``findings.sla``).
SCORED_ATTRIBUTES = ("is_ephi", "asset_class", "role")
TEXT_LIMIT = 200  # Asset.owner / Asset.location


def _attributes(asset: Asset) -> dict[str, Any]:
    return {
        "asset_class": asset.asset_class.key,
        "role": asset.role,
        "owner": asset.owner,
        "location": asset.location,
        "site": asset.site.name if asset.site_id else "",
        "is_ephi": asset.is_ephi,
        "data_flows": list(asset.data_flows),
    }


def clean_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """Check the attributes a person wants to set; the cleaned values, keyed as given.

    ``asset_class`` is a class key, ``site`` a site name ("" or None: no site), ``data_flows``
    a list of data-flow values. Raises ``ValidationError`` naming every bad field (and any
    key that is not an editable attribute)."""
    from django.core.exceptions import ValidationError

    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    unknown = sorted(set(values) - set(EDITABLE_ATTRIBUTES))
    if unknown:
        errors["detail"] = (
            f"Not editable: {', '.join(unknown)}; editable: {', '.join(EDITABLE_ATTRIBUTES)}."
        )
    if not values:
        errors["detail"] = f"Give at least one of {', '.join(EDITABLE_ATTRIBUTES)}."
    if "asset_class" in values:
        key = values["asset_class"]
        cls = AssetClass.objects.filter(key=key).first() if isinstance(key, str) else None
        if cls is None:
            keys = ", ".join(AssetClass.objects.values_list("key", flat=True))
            errors["asset_class"] = f"Unknown asset class {key!r}; use one of {keys}."
        else:
            out["asset_class"] = cls
    if "role" in values:
        if values["role"] not in AssetRole.values:
            errors["role"] = f"Unknown role {values['role']!r}; use {', '.join(AssetRole.values)}."
        else:
            out["role"] = values["role"]
    for name in ("owner", "location"):
        if name in values:
            text = values[name] if values[name] is not None else ""
            if not isinstance(text, str):
                errors[name] = "Give text."
            elif len(text.strip()) > TEXT_LIMIT:
                errors[name] = f"At most {TEXT_LIMIT} characters."
            else:
                out[name] = text.strip()
    if "site" in values:
        name = values["site"]
        if name in (None, ""):
            out["site"] = None
        elif isinstance(name, Site):
            out["site"] = name
        else:
            site = Site.objects.filter(name__iexact=str(name).strip()).first()
            if site is None:
                names = ", ".join(Site.objects.values_list("name", flat=True)) or "none yet"
                errors["site"] = f"Unknown site {name!r}; sites: {names}."
            else:
                out["site"] = site
    if "is_ephi" in values:
        if not isinstance(values["is_ephi"], bool):
            errors["is_ephi"] = "Give true or false."
        else:
            out["is_ephi"] = values["is_ephi"]
    if "data_flows" in values:
        flows = values["data_flows"]
        if not isinstance(flows, list | tuple) or not all(isinstance(f, str) for f in flows):
            errors["data_flows"] = "Give a list of data flows."
        else:
            bad = [f for f in flows if f not in DataFlow.values]
            if bad:
                errors["data_flows"] = (
                    f"Unknown data flow(s) {bad}; use {', '.join(DataFlow.values)}."
                )
            else:
                out["data_flows"] = [f for f in DataFlow.values if f in flows]
    if errors:
        raise ValidationError(errors)
    return out


def update_asset_attributes(
    *, asset: Asset, actor: Any, values: dict[str, Any], source: str
) -> dict[str, Any]:
    """Set business attributes of one asset (``values`` as ``clean_attributes`` takes them).

    One ``asset.attributes_changed`` event (``source`` "portal" or "api") names each changed
    attribute before and after; when ePHI, class or role changed, the asset's outstanding
    findings are re-scored in the same transaction (risk score; due date when the class's SLA
    window differs) and the event lists each re-scored finding. Bad input raises
    ``ValidationError`` and changes nothing. Returns the changes (empty: nothing changed)."""
    cleaned = clean_attributes(values)
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Asset.objects.select_for_update(of=("self",))
            .select_related("asset_class", "site")
            .get(pk=asset.pk)
        )
        before = _attributes(locked)
        previous_class_id = locked.asset_class_id
        for name, value in cleaned.items():
            setattr(locked, name, value)
        after = _attributes(locked)
        changes = {
            name: {"before": before[name], "after": after[name]}
            for name in EDITABLE_ATTRIBUTES
            if before[name] != after[name]
        }
        if not changes:
            return {}
        locked.save(update_fields=[*cleaned, "updated_at"])
        entry: dict[str, Any] = {
            "id": str(locked.uuid),
            "hostname": locked.hostname,
            "changes": changes,
        }
        if any(name in changes for name in SCORED_ATTRIBUTES):
            rescored = hooks.business_attributes_changed(
                previous_class={locked.pk: previous_class_id}, at=now
            ).get(locked.pk, [])
            entry["findings"] = rescored
        record_event(
            kind="asset.attributes_changed",
            subject_type="discovery_run",
            subject_id=source,
            actor=actor,
            occurred_at=now,
            payload={"source": source, "assets": [entry]},
        )
    asset.refresh_from_db()
    return changes


def tag_assets(
    *,
    assets: list[Asset],
    actor: Any,
    is_ephi: bool | None = None,
    data_flows: list[str] | None = None,
) -> int:
    """Set the ePHI flag and/or the data-flow tags of assets; one event per changed asset (a
    changed ePHI flag re-scores the asset's findings, listed in the event)."""
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
            payload: dict[str, Any] = {"hostname": asset.hostname, "before": before, "after": after}
            if before["is_ephi"] != after["is_ephi"]:
                # The risk score reads the ePHI flag: the asset's findings follow, now.
                payload["findings"] = hooks.business_attributes_changed(
                    previous_class={asset.pk: asset.asset_class_id}, at=timezone.now()
                ).get(asset.pk, [])
            record_event(
                kind="asset.tagged",
                subject_type="asset",
                subject_id=asset.uuid,
                actor=actor,
                payload=payload,
            )
    return changed


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
