"""What other apps do when the inventory records devices, without the inventory importing them.

An app that must react registers a callable once, in its ``AppConfig.ready()``: the rings app
gives every new managed device its ring. The inventory services call ``assets_recorded`` inside
the transaction that records the devices (ingest, adoption of an unknown device), so a device is
never committed without what the hooks add to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

__all__ = ["AssetsRecordedHook", "on_assets_recorded", "assets_recorded", "registered"]

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
