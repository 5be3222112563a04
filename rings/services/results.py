"""Halts and results: halting a rollout (by hand or on a failure-rate breach), each device's
deployment outcome, snapshots, runbook checks and the verification of deployments by a later
inventory."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from evidence.services import actor_label, record_event
from findings.choices import FindingState
from findings.models import Finding
from integrations.choices import JobAction, JobStatus, TicketCategory, TicketPriority
from integrations.models import AgentJob
from integrations.services import open_ticket
from rings.choices import WAVE_DONE_STATES, DeploymentStatus, RolloutState, WaveState
from rings.models import DeploymentResult, Rollout, RunbookCheck, RunbookCheckResult, Wave
from rings.services.membership import SYSTEM
from rings.services.state import _event, _mark_findings, _wave_findings


def _halt(
    rollout: Rollout,
    wave: Wave | None,
    at: datetime,
    actor: Any,
    reason: str,
    *,
    breach_rate: Decimal | None = None,
    ticket_category: str | None = None,
) -> bool:
    updated = Rollout.objects.filter(pk=rollout.pk, state=RolloutState.ACTIVE).update(
        state=RolloutState.HALTED, halted_at=at, halt_reason=reason
    )
    if not updated:
        return False
    if wave is not None:
        # ``halted_from`` keeps the state the wave was in, so a resume can continue from it.
        Wave.objects.filter(pk=wave.pk).exclude(state__in=WAVE_DONE_STATES).update(
            state=WaveState.HALTED, halted_from=F("state"), halted_at=at, halt_reason=reason
        )
        _event("wave.halted", wave, at, actor=actor, reason=reason)
    # Queued install and snapshot jobs stop; rollback jobs go on (they undo, not deploy).
    cancelled = (
        AgentJob.objects.filter(wave__rollout=rollout, status=JobStatus.QUEUED)
        .exclude(action=JobAction.ROLLBACK)
        .update(status=JobStatus.CANCELLED)
    )
    record_event(
        kind="rollout.halted",
        subject_type="rollout",
        subject_id=rollout.uuid,
        actor=actor,
        payload={
            "reason": reason,
            "ring": wave.ring.key if wave else None,
            "cancelled_jobs": cancelled,
        },
        occurred_at=at,
    )
    category = ticket_category or (TicketCategory.BREACH if breach_rate is not None else None)
    if category:
        failed = []
        if wave is not None:
            failed = [
                str(u)
                for u in wave.results.filter(status=DeploymentStatus.FAILED).values_list(
                    "asset__uuid", flat=True
                )
            ]
        open_ticket(
            category=category,
            summary=f"Rollout “{rollout.name}” halted in {wave.ring.name if wave else 'no ring'}",
            description=reason
            + (f"\nFailed assets: {len(failed)}." if failed else "")
            + f"\nPatches: {', '.join(rollout.patch_identifiers)}",
            priority=TicketPriority.HIGH,
            related={
                "rollout": str(rollout.uuid),
                "wave": str(wave.uuid) if wave else None,
                "assets": failed,
            },
            at=at,
        )
    return True


def halt_rollout(*, rollout: Rollout, actor: Any, reason: str, at: datetime | None = None) -> bool:
    """Stop a rollout by hand; its current wave is halted and queued jobs are cancelled."""
    at = at or timezone.now()
    if not reason.strip():
        raise ValidationError({"reason": "Say why the rollout is halted."})
    with transaction.atomic():
        wave = rollout.waves.exclude(state__in=WAVE_DONE_STATES).order_by("order").first()
        if not _halt(rollout, wave, at, actor, reason.strip()):
            raise ValidationError({"rollout": "Only an active rollout can be halted."})
    return True


def record_deployment_outcome(
    *,
    result: DeploymentResult,
    succeeded: bool,
    at: datetime,
    message: str = "",
    actor: Any = SYSTEM,
) -> bool:
    """A real (not dry-run) job result: the asset is deployed (not verified) or failed."""
    with transaction.atomic():
        status = DeploymentStatus.DEPLOYED if succeeded else DeploymentStatus.FAILED
        fields: dict[str, Any] = {"status": status, "attempted_at": at, "message": message[:2000]}
        fields["deployed_at" if succeeded else "failed_at"] = at
        updated = DeploymentResult.objects.filter(
            pk=result.pk, status=DeploymentStatus.PENDING
        ).update(**fields)
        if not updated:
            return False
        wave = result.wave
        _mark_findings(
            wave, [result.asset], FindingState.DEPLOYED if succeeded else FindingState.FAILED, at
        )
        record_event(
            kind="deployment.succeeded" if succeeded else "deployment.failed",
            subject_type="asset",
            subject_id=result.asset.uuid,
            actor=actor,
            payload={
                "rollout": str(wave.rollout.uuid),
                "wave": str(wave.uuid),
                "ring": wave.ring.key,
                "message": message[:500],
                "findings": _wave_findings(wave, [result.asset_id]),
            },
            occurred_at=at,
        )
    return True


def confirm_snapshot(*, result: DeploymentResult, at: datetime, actor: Any) -> bool:
    with transaction.atomic():
        updated = DeploymentResult.objects.filter(
            pk=result.pk, snapshot_confirmed_at__isnull=True
        ).update(snapshot_confirmed_at=at)
        if updated:
            record_event(
                kind="snapshot.confirmed",
                subject_type="asset",
                subject_id=result.asset.uuid,
                actor=actor,
                payload={"wave": str(result.wave.uuid)},
                occurred_at=at,
            )
    return bool(updated)


def record_runbook_check(
    *,
    wave: Wave,
    check: RunbookCheck,
    passed: bool,
    actor: Any,
    note: str = "",
    at: datetime | None = None,
) -> RunbookCheckResult:
    """Record one spot-check for a wave; a failed check flagged ``halts_on_failure`` halts.

    A check that failed may be recorded again (after the fix and a resume); a passed one stands.
    The evidence chain keeps every recording."""
    at = at or timezone.now()
    if wave.state in (
        WaveState.PENDING,
        WaveState.AWAITING,
        WaveState.PRECHECKS,
        WaveState.SKIPPED,
    ):
        raise ValidationError({"wave": "Runbook checks are recorded after patching starts."})
    try:
        with transaction.atomic():
            fields = {
                "passed": passed,
                "recorded_by": actor_label(actor),
                "recorded_at": at,
                "note": note,
            }
            again = RunbookCheckResult.objects.filter(
                wave=wave, runbook_check=check, passed=False
            ).update(**fields)
            if again:
                result = RunbookCheckResult.objects.get(wave=wave, runbook_check=check)
            else:
                result = RunbookCheckResult.objects.create(wave=wave, runbook_check=check, **fields)
            _event(
                "runbook.check_recorded",
                wave,
                at,
                actor=actor,
                check=check.name,
                passed=passed,
                note=note,
            )
            if not passed and check.halts_on_failure:
                _halt(
                    wave.rollout,
                    wave,
                    at,
                    actor,
                    f"Runbook check “{check.name}” failed in {wave.ring.name}"
                    + (f": {note}" if note else "."),
                    ticket_category=TicketCategory.RUNBOOK,
                )
    except IntegrityError as exc:
        raise ValidationError({"check": "This check is already recorded for the wave."}) from exc
    return result


def verify_results_for_assets(*, asset_ids: list[int], at: datetime) -> int:
    """Deployed results of these assets become verified once an inventory verified every
    finding their rollout carries for the asset, whatever state the wave is in (called by the
    inventory pipeline right after verification; the promotion beat does the same per wave).
    Set-based: one query to find them, one update, one event per wave."""
    if not asset_ids:
        return 0
    unverified = Finding.objects.filter(
        rollouts=OuterRef("wave__rollout"), asset=OuterRef("asset")
    ).exclude(state=FindingState.VERIFIED)
    carried = Finding.objects.filter(rollouts=OuterRef("wave__rollout"), asset=OuterRef("asset"))
    rows = list(
        DeploymentResult.objects.filter(asset_id__in=asset_ids, status=DeploymentStatus.DEPLOYED)
        .filter(Exists(carried), ~Exists(unverified))
        .select_related("wave__rollout", "wave__ring")
        .select_for_update(of=("self",))
    )
    if not rows:
        return 0
    updated = DeploymentResult.objects.filter(
        pk__in=[r.pk for r in rows], status=DeploymentStatus.DEPLOYED
    ).update(status=DeploymentStatus.VERIFIED, verified_at=at)
    per_wave: dict[int, list[DeploymentResult]] = defaultdict(list)
    for r in rows:
        per_wave[r.wave_id].append(r)
    for results in per_wave.values():
        wave = results[0].wave
        _event(
            "deployment.verified",
            wave,
            at,
            assets=len(results),
            findings=_wave_findings(wave, [r.asset_id for r in results]),
        )
    return updated
