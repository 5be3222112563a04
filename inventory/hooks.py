"""What other apps do when the inventory records devices, without the inventory importing them.

An app that must react registers a callable once, in its ``AppConfig.ready()``:

* ``on_assets_recorded``: the rings app gives every new managed device its ring. The inventory
  services call ``assets_recorded`` inside the transaction that records the devices (ingest,
  adoption of an unknown device), so a device is never committed without what the hooks add.
* ``on_inventory_synced``: the findings app re-matches the devices an ingest just recorded (in
  the same transaction) and reports how many findings it opened and verified.
* ``on_asset_page``: the findings app adds the asset's findings to the asset page.
* ``on_business_attributes_changed``: the findings app re-scores the outstanding findings of
  assets whose ePHI flag, class or role a person changed (in the same transaction) and says,
  per finding, what moved (risk score, due date and why).
* ``on_install_records_received``: the rings app checks the deployments reported installed on
  assets whose OS install records just arrived against those records (same transaction).
* ``on_scheduled_discovery``: apps that pull inventory from elsewhere (an RMM's API, scans
  queued to a scanner agent) do their part of the client's scheduled discovery run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "AssetsRecordedHook",
    "on_assets_recorded",
    "assets_recorded",
    "registered",
    "on_inventory_synced",
    "inventory_synced",
    "on_asset_page",
    "asset_page_context",
    "on_business_attributes_changed",
    "business_attributes_changed",
    "on_install_records_received",
    "install_records_received",
    "on_scheduled_discovery",
    "scheduled_discovery",
]

AssetsRecordedHook = Callable[..., Any]
_hooks: list[AssetsRecordedHook] = []


def on_assets_recorded(hook: AssetsRecordedHook) -> AssetsRecordedHook:
    """Register ``hook(asset_ids=[…], at=datetime)``; registering the same hook twice is a no-op."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def registered() -> list[AssetsRecordedHook]:
    return list(_hooks)


def assets_recorded(*, asset_ids: Iterable[int], at: datetime) -> None:
    """Tell every registered hook which assets were just created or updated (they decide what
    concerns them, e.g. managed assets without a ring)."""
    ids = sorted(set(asset_ids))
    if not ids:
        return
    for hook in list(_hooks):
        hook(asset_ids=ids, at=at)


# ``hook(asset_ids=[…], at=datetime) -> {"findings_opened": n, …}``: counts for the ingest summary.
InventorySyncedHook = Callable[..., Mapping[str, int]]
_synced: list[InventorySyncedHook] = []


def on_inventory_synced(hook: InventorySyncedHook) -> InventorySyncedHook:
    if hook not in _synced:
        _synced.append(hook)
    return hook


def inventory_synced(*, asset_ids: Iterable[int], at: datetime) -> dict[str, int]:
    """Run every hook on the assets an ingest recorded; their counts, added up by name."""
    ids = sorted(set(asset_ids))
    counts: dict[str, int] = {}
    for hook in list(_synced):
        for name, value in (hook(asset_ids=ids, at=at) or {}).items():
            counts[name] = counts.get(name, 0) + int(value)
    return counts


# ``hook(asset=Asset, at=datetime) -> {name: value}``: template context for the asset page.
AssetPageHook = Callable[..., Mapping[str, Any]]
_asset_page: list[AssetPageHook] = []


def on_asset_page(hook: AssetPageHook) -> AssetPageHook:
    if hook not in _asset_page:
        _asset_page.append(hook)
    return hook


def asset_page_context(*, asset: Any, at: datetime) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for hook in list(_asset_page):
        context.update(hook(asset=asset, at=at))
    return context


# ``hook(previous_class={asset pk: class pk before}, at=datetime) -> {asset pk: [change, …]}``:
# each change a JSON-able dict naming one re-scored finding (see ``findings.rescore``).
AttributesChangedHook = Callable[..., Mapping[int, list[dict[str, Any]]]]
_attributes_changed: list[AttributesChangedHook] = []


def on_business_attributes_changed(hook: AttributesChangedHook) -> AttributesChangedHook:
    if hook not in _attributes_changed:
        _attributes_changed.append(hook)
    return hook


def business_attributes_changed(
    *, previous_class: Mapping[int, int], at: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Run every hook on assets whose scored attributes changed (already saved); what each
    re-scored, per asset pk."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not previous_class:
        return out
    for hook in list(_attributes_changed):
        for pk, changes in (hook(previous_class=dict(previous_class), at=at) or {}).items():
            out.setdefault(pk, []).extend(changes)
    return out


# ``hook(asset_ids=[…], at=datetime) -> int``: after an ingest stored OS install records (the
# rings app checks the deployments reported on those assets against them).
InstallRecordsHook = Callable[..., int]
_records: list[InstallRecordsHook] = []


def on_install_records_received(hook: InstallRecordsHook) -> InstallRecordsHook:
    if hook not in _records:
        _records.append(hook)
    return hook


def install_records_received(*, asset_ids: Iterable[int], at: datetime) -> int:
    """Run every hook on the assets whose install records just arrived; their counts summed."""
    ids = sorted(set(asset_ids))
    if not ids:
        return 0
    return sum(int(hook(asset_ids=ids, at=at) or 0) for hook in list(_records))


@dataclass
class PullResult:
    """What one pull source did: how many sources it pulled, counts by name, errors (one line
    each, for the run)."""

    sources: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# ``hook(client=Client, now=datetime) -> PullResult``: one pull-type source's part of the
# scheduled discovery (an RMM pull, scan jobs queued to scanner agents). A hook records its own
# errors in the result instead of raising, so one failing source never stops the others.
ScheduledDiscoveryHook = Callable[..., PullResult]
_scheduled: list[ScheduledDiscoveryHook] = []


def on_scheduled_discovery(hook: ScheduledDiscoveryHook) -> ScheduledDiscoveryHook:
    if hook not in _scheduled:
        _scheduled.append(hook)
    return hook


def scheduled_discovery(*, client: Any, now: datetime) -> PullResult:
    """Run every pull source of the scheduled discovery; their counts summed, errors joined.

    A hook that raises is recorded as an error of the run (its name and the message)."""
    total = PullResult()
    for hook in list(_scheduled):
        try:
            result = hook(client=client, now=now)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, never lost
            total.errors.append(f"{getattr(hook, '__name__', 'pull source')}: {exc}")
            continue
        if result is None:
            continue
        total.sources += result.sources
        for name, value in result.counts.items():
            total.counts[name] = total.counts.get(name, 0) + int(value)
        total.errors.extend(result.errors)
    return total
