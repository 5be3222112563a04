"""Rollbacks and resumes: undoing a rollout's patches on devices and continuing after a halt.

A rollback requested in PatchOps queues one rollback job per device: to the device's agent
(``patchops-agent jobs`` runs it with the platform's package tool) or, when the client has an RMM
webhook, to the RMM. Each device's result is recorded as it arrives (``record_rollback_outcome``)
and the rollback's outcome follows from them. A rollback done elsewhere by hand is recorded with
its outcome at once (``record_rollback``). A halted rollout is resumed by a person allowed to
operate it, with a reason; both land in the evidence chain and name the findings they act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from evidence.services import actor_label, record_event
from findings.choices import FindingState
from integrations.choices import JobAction, JobStatus
from integrations.connectors import get_connector, rollback_packages_for
from integrations.models import AgentJob
from inventory.models import Asset
from tenants.models import User
from tenants.permissions import Capability, has_capability

from ..choices import (
    DeploymentStatus,
    RollbackOutcome,
    RollbackTargetStatus,
    RolloutState,
    WaveState,
)
from ..models import (
    DeploymentResult,
    MaintenanceWindow,
    RollbackEvent,
    RollbackTarget,
    Rollout,
    Wave,
)
from .rollouts import _finding_uuids, _next_asset_window, asset_window
from .state import _emergency_slot, _note

__all__ = [
    "ResumeRefused",
    "ROLLBACK_SOURCE_STATES",
    "request_rollback",
    "record_rollback_outcome",
    "record_rollback",
    "resume_rollout",
]

# Results a rollback can undo: deployed, verified, and failed ones (a failed install may have
# left part of an update behind).
ROLLBACK_SOURCE_STATES = (
    DeploymentStatus.DEPLOYED,
    DeploymentStatus.VERIFIED,
    DeploymentStatus.FAILED,
)


class ResumeRefused(PermissionDenied):
    """Only a person allowed to operate the client's rollouts resumes one (answers 403)."""


def _rollout_findings(rollout: Rollout, asset_ids: Sequence[int]) -> list[str]:
    return _finding_uuids(rollout.findings.filter(asset__in=list(asset_ids)).only("uuid"))


def _reopen(rollout: Rollout, asset_ids: Sequence[int], at: datetime) -> int:
    """The patch is off the device again: its findings are open work once more. A verified
    finding waits for the next inventory, which proves the fix gone (deployment and rollback
    reports are not proof; only inventory is)."""
    return (
        rollout.findings.filter(asset__in=list(asset_ids))
        .exclude(state=FindingState.VERIFIED)
        .update(state=FindingState.OPEN, deployed_at=None, updated_at=at)
    )


def request_rollback(
    *,
    rollout: Rollout,
    actor: Any,
    reason: str,
    wave: Wave | None = None,
    assets: Sequence[Asset] = (),
    at: datetime | None = None,
) -> RollbackEvent:
    """Roll the rollout's patches back on these assets (default: every asset the wave, or the
    whole rollout, deployed to): queue one rollback job per asset to its agent or to the RMM.

    The rollback stays ``pending`` until every asset reported; assets that can receive no job
    (no agent and no RMM) fail at once with the reason.
    """
    at = at or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"what": "Say what is rolled back and why."})
    if wave is not None and wave.rollout_id != rollout.pk:
        raise ValidationError({"wave": "This wave belongs to another rollout."})
    results = DeploymentResult.objects.filter(
        wave__rollout=rollout, status__in=ROLLBACK_SOURCE_STATES
    ).select_related("asset", "wave", "wave__ring")
    if wave is not None:
        results = results.filter(wave=wave)
    if assets:
        wanted = {a.pk for a in assets}
        results = results.filter(asset__in=wanted)
        missing = wanted - {r.asset_id for r in results}
        if missing:
            names = sorted(a.hostname for a in assets if a.pk in missing)
            raise ValidationError(
                {"assets": f"Nothing of this rollout was deployed on {', '.join(names)}."}
            )
    results = list(results.order_by("asset__hostname"))
    if not results:
        raise ValidationError({"assets": "Nothing of this rollout was deployed: nothing to undo."})
    busy = set(
        RollbackTarget.objects.filter(
            rollback__rollout=rollout,
            status=RollbackTargetStatus.PENDING,
            asset__in=[r.asset_id for r in results],
        ).values_list("asset__hostname", flat=True)
    )
    if busy:
        raise ValidationError(
            {"assets": f"A rollback is already under way on {', '.join(sorted(busy))}."}
        )
    connector = get_connector()
    with transaction.atomic():
        rollback = RollbackEvent.objects.create(
            rollout=rollout,
            wave=wave,
            actor=actor_label(actor),
            occurred_at=at,
            what=reason,
            outcome=RollbackOutcome.PENDING,
            connector=connector.name,
        )
        rollback.assets.set([r.asset for r in results])
        targets = RollbackTarget.objects.bulk_create(
            RollbackTarget(
                rollback=rollback,
                asset=r.asset,
                result=r,
                packages=rollback_packages_for(rollout, r.asset),
            )
            for r in results
        )
        for target, result in zip(targets, results, strict=True):
            target.result = result
        asset_ids = [r.asset_id for r in results]
        record_event(
            kind="rollback.requested",
            subject_type="rollout",
            subject_id=rollout.uuid,
            actor=actor,
            payload={
                "rollback": str(rollback.uuid),
                "wave": str(wave.uuid) if wave else None,
                "ring": wave.ring.key if wave else None,
                "reason": reason,
                "connector": connector.name,
                "assets": [str(r.asset.uuid) for r in results],
                "findings": _rollout_findings(rollout, asset_ids),
            },
            occurred_at=at,
        )
        refused = connector.rollback(rollback, targets)
        for target, message in refused.items():
            record_rollback_outcome(
                target=target, succeeded=False, at=at, message=message, actor=actor
            )
    rollback.refresh_from_db()
    return rollback


def record_rollback_outcome(
    *,
    target: RollbackTarget,
    succeeded: bool,
    at: datetime,
    message: str = "",
    actor: Any = "system:rings",
) -> bool:
    """One asset's rollback result (from its agent's job or the RMM). A rolled-back asset's
    deployment result becomes ``rolled_back`` (it leaves the wave's counts) and its findings
    open again. When the last asset reported, the rollback gets its outcome."""
    with transaction.atomic():
        status = RollbackTargetStatus.ROLLED_BACK if succeeded else RollbackTargetStatus.FAILED
        updated = RollbackTarget.objects.filter(
            pk=target.pk, status=RollbackTargetStatus.PENDING
        ).update(status=status, finished_at=at, message=message[:2000])
        if not updated:
            return False
        rollback = RollbackEvent.objects.select_related("rollout", "wave__ring").get(
            pk=target.rollback_id
        )
        rollout = rollback.rollout
        result = (
            DeploymentResult.objects.select_related("wave", "wave__ring")
            .filter(pk=target.result_id)
            .first()
        )
        if succeeded:
            if result is not None:
                DeploymentResult.objects.filter(pk=result.pk).update(
                    status=DeploymentStatus.ROLLED_BACK, rolled_back_at=at
                )
            _reopen(rollout, [target.asset_id], at)
        asset = Asset.objects.only("uuid", "hostname").get(pk=target.asset_id)
        record_event(
            kind="rollback.succeeded" if succeeded else "rollback.failed",
            subject_type="asset",
            subject_id=asset.uuid,
            actor=actor,
            payload={
                "rollback": str(rollback.uuid),
                "rollout": str(rollout.uuid),
                "wave": str(result.wave.uuid) if result else None,
                "ring": result.wave.ring.key if result else None,
                "message": message[:500],
                "findings": _rollout_findings(rollout, [target.asset_id]),
            },
            occurred_at=at,
        )
        _conclude(rollback, at)
    return True


def _conclude(rollback: RollbackEvent, at: datetime) -> None:
    targets = list(rollback.targets.values_list("status", "asset_id"))
    if any(status == RollbackTargetStatus.PENDING for status, _ in targets):
        return
    done = [a for status, a in targets if status == RollbackTargetStatus.ROLLED_BACK]
    failed = len(targets) - len(done)
    outcome = (
        RollbackOutcome.SUCCEEDED
        if not failed
        else RollbackOutcome.FAILED
        if not done
        else RollbackOutcome.PARTIAL
    )
    updated = RollbackEvent.objects.filter(pk=rollback.pk, outcome=RollbackOutcome.PENDING).update(
        outcome=outcome, completed_at=at
    )
    if not updated:
        return
    record_event(
        kind="rollback.completed",
        subject_type="rollout",
        subject_id=rollback.rollout.uuid,
        actor="system:rings",
        payload={
            "rollback": str(rollback.uuid),
            "outcome": outcome,
            "rolled_back": len(done),
            "failed": failed,
            "findings": _rollout_findings(rollback.rollout, [a for _, a in targets]),
        },
        occurred_at=at,
    )


def record_rollback(
    *,
    rollout: Rollout,
    actor: Any,
    what: str,
    outcome: str,
    wave: Wave | None = None,
    assets: Sequence[Asset] = (),
    at: datetime | None = None,
) -> RollbackEvent:
    """Record a rollback done by hand outside PatchOps (who, when, what, outcome); rolled-back
    assets leave the counts and their findings open again."""
    at = at or timezone.now()
    if not what.strip():
        raise ValidationError({"what": "Describe what was rolled back."})
    if outcome not in RollbackOutcome.values or outcome == RollbackOutcome.PENDING:
        choices = [v for v in RollbackOutcome.values if v != RollbackOutcome.PENDING]
        raise ValidationError({"outcome": f"Choose one of {', '.join(choices)}."})
    if wave is not None and wave.rollout_id != rollout.pk:
        raise ValidationError({"wave": "This wave belongs to another rollout."})
    with transaction.atomic():
        event = RollbackEvent.objects.create(
            rollout=rollout,
            wave=wave,
            actor=actor_label(actor),
            occurred_at=at,
            what=what.strip(),
            outcome=outcome,
            is_manual=True,
            completed_at=at,
        )
        event.assets.set(assets)
        asset_ids = [a.pk for a in assets]
        if outcome != RollbackOutcome.FAILED and assets:
            results = DeploymentResult.objects.filter(wave__rollout=rollout, asset__in=asset_ids)
            if wave is not None:
                results = results.filter(wave=wave)
            results.exclude(status=DeploymentStatus.PENDING).update(
                status=DeploymentStatus.ROLLED_BACK, rolled_back_at=at
            )
            _reopen(rollout, asset_ids, at)
        record_event(
            kind="rollback.recorded",
            subject_type="rollout",
            subject_id=rollout.uuid,
            actor=actor,
            payload={
                "rollback": str(event.uuid),
                "what": event.what,
                "outcome": outcome,
                "wave": str(wave.uuid) if wave else None,
                "assets": [a.hostname for a in assets],
                "findings": _rollout_findings(rollout, asset_ids),
            },
            occurred_at=at,
        )
    return event


def _requeue(wave: Wave, at: datetime) -> int:
    """Install jobs were cancelled by the halt: send the wave's pending assets again, each in
    its current or next window (an expedited wave opens a new emergency window)."""
    pending = list(
        wave.results.filter(status=DeploymentStatus.PENDING).select_related("asset", "wave")
    )
    if not pending:
        return 0
    windows = list(MaintenanceWindow.objects.filter(is_active=True))
    sent = []
    for result in pending:
        if wave.rollout.is_expedited:
            slot = _emergency_slot(at)
        else:
            slot = asset_window(result.asset, windows, at) or _next_asset_window(
                result.asset, windows, at
            )
        if slot is None:
            continue
        DeploymentResult.objects.filter(pk=result.pk).update(
            window_start=slot[0], window_end=slot[1], message=""
        )
        sent.append(result.asset)
    if sent:
        AgentJob.objects.filter(
            wave=wave,
            asset__in=[a.pk for a in sent],
            action=JobAction.INSTALL,
            status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED],
        ).update(status=JobStatus.CANCELLED)
        get_connector().deploy(wave, sent)
    return len(sent)


def resume_rollout(
    *, rollout: Rollout, user: Any, reason: str, at: datetime | None = None
) -> Rollout:
    """Resume a halted rollout: its halted wave continues from the state it was halted in.

    Only a person who may operate the client's rollouts resumes, with a reason. The failures
    that caused a breach are accepted by that person: the ring's threshold then applies to what
    happens after the resume (the reported failure rate keeps every failure). A wave halted
    while soaking soaks again from the start; one halted while deploying gets its pending jobs
    sent again; one halted in pre-checks asks again for the snapshots it lacks.
    """
    at = at or timezone.now()
    if not isinstance(user, User):
        raise ResumeRefused("A halted rollout is resumed by a person, not by an API token.")
    if not has_capability(user, getattr(connection, "tenant", None), Capability.OPERATE):
        raise ResumeRefused("Your role may not resume rollouts here (it needs operate).")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the rollout may continue."})
    with transaction.atomic():
        updated = Rollout.objects.filter(pk=rollout.pk, state=RolloutState.HALTED).update(
            state=RolloutState.ACTIVE,
            resumed_at=at,
            resumed_by=actor_label(user),
            resume_reason=reason,
        )
        if not updated:
            raise ValidationError({"rollout": "Only a halted rollout can be resumed."})
        wave = (
            Wave.objects.select_related("ring", "rollout")
            .filter(rollout=rollout, state=WaveState.HALTED)
            .order_by("order")
            .first()
        )
        payload: dict[str, Any] = {
            "reason": reason,
            "halt_reason": rollout.halt_reason,
            "wave": None,
            "ring": None,
            "state": None,
            "accepted_failed": 0,
            "requeued": 0,
            "findings": [],
        }
        if wave is not None:
            back = wave.halted_from or WaveState.PENDING
            counts = wave.counts()
            fields: dict[str, Any] = {
                "state": back,
                "halted_from": "",
                "resumed_at": at,
                "accepted_failed": counts[DeploymentStatus.FAILED],
                "accepted_attempted": counts["attempted"],
                "notes": _note(wave, at, f"Resumed by {actor_label(user)}: {reason}"),
            }
            if back == WaveState.SOAKING:
                fields.update(soak_started_at=at, soak_ends_at=at + wave.soak)
            Wave.objects.filter(pk=wave.pk, state=WaveState.HALTED).update(**fields)
            wave.refresh_from_db()
            requeued = 0
            if back == WaveState.DEPLOYING:
                requeued = _requeue(wave, at)
            elif back == WaveState.PRECHECKS:
                wave.results.filter(snapshot_confirmed_at__isnull=True).update(
                    snapshot_requested_at=None
                )
            payload.update(
                wave=str(wave.uuid),
                ring=wave.ring.key,
                state=back,
                accepted_failed=counts[DeploymentStatus.FAILED],
                requeued=requeued,
                findings=_rollout_findings(
                    rollout, list(wave.results.values_list("asset_id", flat=True))
                ),
            )
        record_event(
            kind="rollout.resumed",
            subject_type="rollout",
            subject_id=rollout.uuid,
            actor=user,
            payload=payload,
            occurred_at=at,
        )
    rollout.refresh_from_db()
    return rollout
