"""Network discovery: reconciling a scan with the inventory (the unknown-device queue), adopting
or dismissing an unknown device, the discovery schedule and stale assets."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH
from evidence.services import actor_label, record_event
from inventory import hooks
from inventory.choices import (
    AssetRole,
    AssetSource,
    DiscoveryRunSource,
    DiscoveryRunStatus,
    UnknownDeviceState,
)
from inventory.models import Asset, AssetClass, DiscoveryRun, DiscoverySchedule, UnknownDevice
from inventory.payload import normalise_mac
from inventory.services.ingest import _lock_inventory


@dataclass
class ReconcileSummary:
    hosts_up: int = 0
    matched_assets: int = 0
    unknown_new: int = 0
    unknown_refreshed: int = 0
    ignored: int = 0

    def __str__(self) -> str:
        return (
            f"{self.hosts_up} host(s) up: {self.matched_assets} matched known assets, "
            f"{self.unknown_new} new unknown device(s), {self.unknown_refreshed} "
            f"already in the queue seen again, {self.ignored} ignored"
        )


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
    """The scheduled pass: pull-type sources (``inventory.hooks.on_scheduled_discovery``) and
    staleness, recorded."""
    now = now or timezone.now()
    run = DiscoveryRun.objects.create(
        source=DiscoveryRunSource.SCHEDULE,
        source_name=f"{client.discovery_cadence} schedule",
        actor="system",
        started_at=now,
    )
    errors: list[str] = []
    counts: dict[str, int] = {"pull_sources": 0}
    pulled = hooks.scheduled_discovery(client=client, now=now)
    counts["pull_sources"] = pulled.sources
    counts.update(pulled.counts)
    errors.extend(pulled.errors)
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
