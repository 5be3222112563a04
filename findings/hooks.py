"""What other apps do when findings are verified, without the findings app importing them.

An app that must react registers a callable once, in its ``AppConfig.ready()``: the rings app
marks the deployments behind the verified findings as verified. The pipeline calls
``findings_verified`` in the transaction that verified them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

__all__ = ["FindingsVerifiedHook", "on_findings_verified", "findings_verified"]

# ``hook(asset_ids=[…], at=datetime) -> int``: how many records the hook verified in turn.
FindingsVerifiedHook = Callable[..., int]
_hooks: list[FindingsVerifiedHook] = []


def on_findings_verified(hook: FindingsVerifiedHook) -> FindingsVerifiedHook:
    """Register ``hook``; registering the same hook twice is a no-op."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def findings_verified(*, asset_ids: Iterable[int], at: datetime) -> int:
    """Tell every hook on which assets findings were just verified; the sum of their counts."""
    ids = sorted(set(asset_ids))
    if not ids:
        return 0
    return sum(int(hook(asset_ids=ids, at=at) or 0) for hook in list(_hooks))
