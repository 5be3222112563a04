"""Changes people make to assets and the inventory's records: tags (ePHI, data flows), monthly
snapshots and reviews of the supported-software list."""

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
from inventory.choices import DataFlow
from inventory.models import Asset, InstalledSoftware, InventorySnapshot, SoftwarePolicyReview


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
