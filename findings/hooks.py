"""What other apps do when findings are verified, without the findings app importing them.

An app that must react registers a callable once, in its ``AppConfig.ready()``: the rings app
marks the deployments behind the verified findings as verified. The pipeline calls
``findings_verified`` in the transaction that verified them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "FindingsVerifiedHook",
    "on_findings_verified",
    "findings_verified",
    "FindingAction",
    "register_finding_action",
    "finding_actions",
    "finding_action",
]

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


# --- actions on chosen findings ----------------------------------------------------------------


@dataclass(frozen=True)
class FindingAction:
    """One thing a person may do to chosen findings from the findings pages.

    ``run(client=, findings=[Finding…], data={name: value}, actor=, at=)`` does it through the
    owning app's service and returns the sentence the page shows (and optionally the URL to go
    to as ``(message, url)``); it raises ``ValidationError`` on bad input (nothing written) and
    ``PermissionDenied`` when the actor may not. ``fields_template`` renders the action's inputs
    (names prefixed with ``<key>-``); ``context(client=)`` gives that template what it needs.
    Apps above the findings register theirs in ``AppConfig.ready()`` (the rings app adds
    findings to a rollout, the exceptions register requests an exception, the integrations open
    a PSA ticket), so the findings app never imports them.
    """

    key: str
    label: str
    run: Callable[..., Any]
    fields_template: str = ""
    capability: str = "operate"
    order: int = 50
    context: Callable[..., dict[str, Any]] | None = None


_actions: dict[str, FindingAction] = {}


def register_finding_action(action: FindingAction) -> FindingAction:
    """Register ``action`` under its key (registering the same key again replaces it)."""
    _actions[action.key] = action
    return action


def finding_actions() -> list[FindingAction]:
    return sorted(_actions.values(), key=lambda a: (a.order, a.key))


def finding_action(key: str) -> FindingAction | None:
    return _actions.get(key)
