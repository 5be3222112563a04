"""The findings app's own actions on chosen findings (``hooks.FindingAction``): ask to close
them as not applicable or a false positive (an admin approves), record a fix done by hand,
check the fix against the latest inventory now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import triage
from .choices import TriageKind
from .hooks import FindingAction, register_finding_action


def _triage(kind: str) -> Any:
    def run(*, client: Any, findings: list[Any], data: Any, actor: Any, at: datetime) -> str:
        rows = triage.request_triage(
            client=client,
            findings=findings,
            kind=kind,
            reason=data.get(f"{kind}-reason", ""),
            actor=actor,
            at=at,
        )
        return (
            f"{len(rows)} finding(s) proposed as {TriageKind(kind).label.lower()}; they stay "
            "open work until an MSP admin other than you approves."
        )

    return run


def _manual_fix(*, client: Any, findings: list[Any], data: Any, actor: Any, at: datetime) -> str:
    n = triage.record_manual_fix(
        client=client, findings=findings, what=data.get("manual-what", ""), actor=actor, at=at
    )
    return (
        f"Manual fix recorded on {n} finding(s); each stays open until an inventory shows the fix."
    )


def _check(*, client: Any, findings: list[Any], data: Any, actor: Any, at: datetime) -> str:
    n = triage.check_findings(client=client, findings=findings, actor=actor, at=at)
    return f"Checked against the latest inventory: {n} of {len(findings)} verified."


ACTIONS = [
    FindingAction(
        key=TriageKind.NOT_APPLICABLE,
        label="Mark not applicable",
        run=_triage(TriageKind.NOT_APPLICABLE),
        fields_template="findings/partials/_action_not_applicable.html",
        order=40,
    ),
    FindingAction(
        key=TriageKind.FALSE_POSITIVE,
        label="Mark false positive",
        run=_triage(TriageKind.FALSE_POSITIVE),
        fields_template="findings/partials/_action_false_positive.html",
        order=41,
    ),
    FindingAction(
        key="manual",
        label="Record a manual fix",
        run=_manual_fix,
        fields_template="findings/partials/_action_manual.html",
        order=45,
    ),
    FindingAction(key="check", label="Check the fix now", run=_check, order=46),
]


def register() -> None:
    for action in ACTIONS:
        register_finding_action(action)
