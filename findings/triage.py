"""Triage and manual remediation of findings (run inside the client's schema).

* ``request_triage``: an engineer asks to close findings as *not applicable* or *false
  positive*, with a reason. Nothing closes yet; the findings stay open work.
* ``decide_triage``: another person holding the administer capability in the client approves
  (the finding becomes ``not_applicable``: no longer open or overdue work, never a verified fix)
  or rejects it with a note. Nobody decides their own request. Both are evidence events naming
  the finding, with who asked and who approved.
* ``record_manual_fix``: someone fixed the device by hand; the what, who and when are an
  evidence event and the finding moves to ``deployed``: **a manual fix is not verification**.
  It closes only when an inventory (an ingest, or ``check_findings`` re-matching the stored
  inventory on request) shows the fix.

Bad input raises ``ValidationError`` (nothing written); a principal without the capability
raises ``PermissionDenied``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from evidence.services import actor_label, record_event, record_events
from tenants.models import Client, User
from tenants.permissions import Capability, has_capability

from .choices import FindingState, TriageKind, TriageState
from .models import Finding, FindingTriage
from .verification import CLOSED_STATES

__all__ = [
    "REASON_MAX",
    "request_triage",
    "decide_triage",
    "record_manual_fix",
    "check_findings",
    "may_decide",
    "pending_triage",
]

REASON_MAX = 2000
# A manual fix moves these to ``deployed`` (awaiting an inventory that shows it).
MANUALLY_FIXABLE = (FindingState.OPEN, FindingState.SCHEDULED, FindingState.FAILED)


def _require(actor: Any, client: Client, capability: Capability, what: str) -> None:
    if not has_capability(actor, client, capability):
        raise PermissionDenied(f"Your role does not allow {what} ({capability.value}).")


def _text(value: Any, field: str, message: str) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError({field: message})
    if len(text) > REASON_MAX:
        raise ValidationError({field: f"At most {REASON_MAX} characters."})
    return text


def _locked(findings: Sequence[Finding]) -> list[Finding]:
    if not findings:
        raise ValidationError({"findings": "Choose at least one finding."})
    return list(
        Finding.objects.select_related("asset")
        .select_for_update(of=("self",))
        .filter(pk__in=[f.pk for f in findings])
        .order_by("pk")
    )


def pending_triage() -> Any:
    return FindingTriage.objects.filter(state=TriageState.PENDING)


def request_triage(
    *,
    client: Client,
    findings: Sequence[Finding],
    kind: str,
    reason: str,
    actor: Any,
    at: datetime | None = None,
) -> list[FindingTriage]:
    """Ask to close ``findings`` as ``kind``; one pending request per finding, for approval."""
    at = at or timezone.now()
    _require(actor, client, Capability.OPERATE, "triaging findings")
    if kind not in TriageKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(TriageKind.labels)}."})
    reason = _text(reason, "reason", "Say why these findings need no fix.")
    with transaction.atomic():
        locked = _locked(findings)
        closed = [f for f in locked if f.state in CLOSED_STATES]
        if closed:
            names = ", ".join(f"{f.patch_identifier} on {f.asset.hostname}" for f in closed[:5])
            raise ValidationError({"findings": f"Already closed: {names}."})
        waiting = set(
            pending_triage().filter(finding__in=locked).values_list("finding_id", flat=True)
        )
        if waiting:
            names = ", ".join(
                f"{f.patch_identifier} on {f.asset.hostname}" for f in locked if f.pk in waiting
            )
            raise ValidationError({"findings": f"Already awaiting approval: {names}."})
        rows = FindingTriage.objects.bulk_create(
            FindingTriage(
                finding=f,
                kind=kind,
                reason=reason,
                requested_by=actor if isinstance(actor, User) else None,
                requested_by_label=actor_label(actor),
                requested_at=at,
            )
            for f in locked
        )
        record_events(
            [
                {
                    "kind": "finding.triage_requested",
                    "subject_type": "finding",
                    "subject_id": row.finding.uuid,
                    "actor": actor,
                    "occurred_at": at,
                    "payload": {
                        "patch": row.finding.patch_identifier,
                        "hostname": row.finding.asset.hostname,
                        "kind": kind,
                        "reason": reason,
                        "triage": str(row.uuid),
                    },
                }
                for row in rows
            ]
        )
    return rows


def may_decide(actor: Any, client: Client, triage: FindingTriage) -> bool:
    """An approver holds ADMINISTER in the client and is not the person who asked."""
    return (
        isinstance(actor, User)
        and has_capability(actor, client, Capability.ADMINISTER)
        and triage.requested_by_id != actor.pk
    )


def decide_triage(
    *,
    client: Client,
    triage: FindingTriage,
    approve: bool,
    actor: Any,
    note: str = "",
    at: datetime | None = None,
) -> FindingTriage:
    """Approve (the finding closes as not applicable) or reject (a note says why) a request."""
    at = at or timezone.now()
    if not isinstance(actor, User) or not has_capability(actor, client, Capability.ADMINISTER):
        raise PermissionDenied("Only an MSP admin of this client approves triage (administer).")
    if triage.requested_by_id == actor.pk:
        raise PermissionDenied("Someone other than the requester approves a triage request.")
    note = (note or "").strip()
    if len(note) > REASON_MAX:
        raise ValidationError({"note": f"At most {REASON_MAX} characters."})
    if not approve and not note:
        raise ValidationError({"note": "Say why the finding stays open work."})
    with transaction.atomic():
        row = (
            FindingTriage.objects.select_for_update(of=("self",))
            .select_related("finding", "finding__asset")
            .get(pk=triage.pk)
        )
        if row.state != TriageState.PENDING:
            raise ValidationError({"triage": f"This request is already {row.get_state_display()}."})
        finding = Finding.objects.select_for_update(of=("self",)).get(pk=row.finding_id)
        row.state = TriageState.APPROVED if approve else TriageState.REJECTED
        row.decided_by = actor
        row.decided_by_label = actor_label(actor)
        row.decided_at = at
        row.decision_note = note
        row.save(
            update_fields=["state", "decided_by", "decided_by_label", "decided_at", "decision_note"]
        )
        base = {"patch": finding.patch_identifier, "kind": row.kind, "triage": str(row.uuid)}
        if approve:
            from_state = finding.state
            if from_state in CLOSED_STATES:
                raise ValidationError({"triage": "The finding is already closed."})
            Finding.objects.filter(pk=finding.pk).update(
                state=FindingState.NOT_APPLICABLE, updated_at=at
            )
            record_event(
                kind="finding.triage_approved",
                subject_type="finding",
                subject_id=finding.uuid,
                actor=actor,
                occurred_at=at,
                payload=base
                | {
                    "hostname": row.finding.asset.hostname,
                    "reason": row.reason,
                    "requested_by": row.requested_by_label,
                    "approved_by": row.decided_by_label,
                    "note": note,
                    "from_state": from_state,
                },
            )
        else:
            record_event(
                kind="finding.triage_rejected",
                subject_type="finding",
                subject_id=finding.uuid,
                actor=actor,
                occurred_at=at,
                payload=base
                | {
                    "requested_by": row.requested_by_label,
                    "rejected_by": row.decided_by_label,
                    "note": note,
                },
            )
    return row


def record_manual_fix(
    *,
    client: Client,
    findings: Sequence[Finding],
    what: str,
    actor: Any,
    at: datetime | None = None,
) -> int:
    """Record a fix done by hand on each finding (what, who, when); they stay open until an
    inventory shows the fix. Returns how many findings it recorded."""
    at = at or timezone.now()
    _require(actor, client, Capability.OPERATE, "recording fixes")
    what = _text(what, "what", "Say what was done on the device.")
    with transaction.atomic():
        locked = _locked(findings)
        wrong = [f for f in locked if f.state not in MANUALLY_FIXABLE + (FindingState.DEPLOYED,)]
        if wrong:
            names = ", ".join(
                f"{f.patch_identifier} on {f.asset.hostname} ({f.get_state_display()})"
                for f in wrong[:5]
            )
            raise ValidationError({"findings": f"Not open work: {names}."})
        Finding.objects.filter(pk__in=[f.pk for f in locked], state__in=MANUALLY_FIXABLE).update(
            state=FindingState.DEPLOYED, deployed_at=at, updated_at=at
        )
        record_events(
            [
                {
                    "kind": "finding.manually_remediated",
                    "subject_type": "finding",
                    "subject_id": f.uuid,
                    "actor": actor,
                    "occurred_at": at,
                    "payload": {
                        "patch": f.patch_identifier,
                        "hostname": f.asset.hostname,
                        "what": what,
                        "done_at": at.isoformat(),
                    },
                }
                for f in locked
            ]
        )
    return len(locked)


def check_findings(
    *, client: Client, findings: Sequence[Finding], actor: Any, at: datetime | None = None
) -> int:
    """Re-match the findings' assets against their latest stored inventory now (what an ingest
    does): a fix the inventory shows verifies its finding. Returns how many were verified."""
    from .pipeline import refresh_findings

    at = at or timezone.now()
    _require(actor, client, Capability.OPERATE, "checking fixes")
    if not findings:
        raise ValidationError({"findings": "Choose at least one finding."})
    with transaction.atomic():
        refresh_findings(asset_ids={f.asset_id for f in findings}, at=at)
        states = dict(
            Finding.objects.filter(pk__in=[f.pk for f in findings]).values_list("pk", "state")
        )
        record_events(
            [
                {
                    "kind": "finding.check_requested",
                    "subject_type": "finding",
                    "subject_id": f.uuid,
                    "actor": actor,
                    "occurred_at": at,
                    "payload": {
                        "patch": f.patch_identifier,
                        "hostname": f.asset.hostname,
                        "verified": states.get(f.pk) == FindingState.VERIFIED,
                    },
                }
                for f in findings
            ]
        )
    return sum(1 for f in findings if states.get(f.pk) == FindingState.VERIFIED)
