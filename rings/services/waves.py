"""The wave state machine: a wave waits for its maintenance window and approval, deploys,
verifies, soaks and passes (or halts); ``evaluate_rollout`` steps a rollout as far as it can."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from evidence.services import record_event
from findings.choices import FindingState
from findings.models import Finding
from integrations.connectors import get_connector
from inventory.models import Asset
from rings.choices import (
    WAVE_DONE_STATES,
    ApproverRole,
    DeploymentStatus,
    RestartMode,
    RolloutState,
    WaveState,
)
from rings.models import Approval, DeploymentResult, MaintenanceWindow, Rollout, RunbookCheck, Wave
from rings.services.approvals import required_approver
from rings.services.membership import SYSTEM
from rings.services.restore_tests import lacking_restore_test, restore_rule
from rings.services.results import _halt, confirm_snapshot
from rings.services.rollouts import (
    _finding_uuids,
    _next_asset_window,
    asset_window,
    reboot_policy_for,
    restart_mode_for,
)
from rings.services.state import (
    IN_FLIGHT_STATES,
    _counts_payload,
    _emergency_slot,
    _event,
    _mark_findings,
    _note,
    _rollout_assets,
    _transition,
    _wave_findings,
    _worst_tier,
    needing_assets,
)


def _enter_awaiting(wave: Wave, at: datetime, windows: list[MaintenanceWindow]) -> str | None:
    by_asset = needing_assets(wave)
    members = list(
        Asset.objects.filter(pk__in=list(by_asset))
        .select_related("asset_class")
        .order_by("hostname")
    )
    if not members:
        size = Asset.objects.filter(ring_membership__ring_id=wave.ring_id).count()
        note = (
            f"None of the {size} member(s) of {wave.ring.name} needs these patches: "
            "nothing to test, so the wave is skipped (never passed)."
            if size
            else f"{wave.ring.name} has no members: nothing to test, so the wave is skipped."
        )
        if _transition(
            wave, WaveState.PENDING, WaveState.SKIPPED, skipped_at=at, notes=_note(wave, at, note)
        ):
            _event("wave.skipped", wave, at, members=size, reason=note)
            return "wave.skipped"
        return None
    expedited = wave.rollout.is_expedited
    if expedited:
        slots: dict[int, tuple[datetime, datetime] | None] = {a.pk: None for a in members}
        first = None
        note = [
            {
                "at": at.isoformat(),
                "note": "Expedited: deploys as soon as it is approved and promoted, without "
                "waiting for a maintenance window.",
            }
        ]
    else:
        slots = {a.pk: asset_window(a, windows, at) for a in members}
        starts = [s for s in slots.values() if s]
        first = min(starts) if starts else None
        note = (
            [] if first else [{"at": at.isoformat(), "note": "No maintenance window applies yet."}]
        )
    if not _transition(
        wave,
        WaveState.PENDING,
        WaveState.AWAITING,
        awaiting_at=at,
        window_start=first[0] if first else None,
        window_end=first[1] if first else None,
        notes=[*wave.notes, *note],
    ):
        return None
    results = []
    for asset in members:
        policy = reboot_policy_for(asset, _worst_tier(by_asset[asset.pk]))
        slot = slots[asset.pk]
        results.append(
            DeploymentResult(
                wave=wave,
                asset=asset,
                reboot_policy=policy,
                restart_mode=restart_mode_for(policy),
                needs_snapshot=asset.asset_class.is_critical,
                window_start=slot[0] if slot else None,
                window_end=slot[1] if slot else None,
            )
        )
    DeploymentResult.objects.bulk_create(results)
    _event(
        "wave.awaiting",
        wave,
        at,
        assets=len(results),
        window_start=first[0].isoformat() if first else None,
        findings=_finding_uuids(f for fs in by_asset.values() for f in fs),
    )
    return "wave.awaiting"


def promote_wave(*, wave: Wave, at: datetime | None = None, actor: Any = SYSTEM) -> bool:
    """Promote the rollout into the wave's ring (awaiting → pre-checks).

    Only when the previous wave is over (passed: its soak ended, its failure rate stayed within
    its threshold and its runbook checks passed; or skipped), the approval for this ring exists
    (none is needed in a ring whose approver is ``none``, except in an expedited rollout) and a
    maintenance window of the wave is open (an expedited wave opens its own at once).
    Returns False when another worker promoted first or a condition does not hold yet.
    """
    at = at or timezone.now()
    with transaction.atomic():
        wave = Wave.objects.select_related("rollout", "ring").get(pk=wave.pk)
        if wave.state != WaveState.AWAITING or wave.rollout.state != RolloutState.ACTIVE:
            return False
        previous = wave.rollout.waves.filter(order__lt=wave.order).exclude(
            state__in=WAVE_DONE_STATES
        )
        if previous.exists():
            raise ValidationError({"wave": "The previous ring has not passed yet."})
        results = list(wave.results.select_related("asset", "asset__asset_class"))
        if _held_for_restore_tests(wave, results, at):
            return False
        needed = required_approver(wave)
        approval = Approval.objects.filter(wave=wave).select_related("approved_by").first()
        if needed is not None and approval is None:
            return False
        if wave.rollout.is_expedited:
            slot = _emergency_slot(at)
            slots = {r.pk: slot for r in results}
        else:
            windows = list(MaintenanceWindow.objects.filter(is_active=True))
            slots = {}
            for result in results:
                found = asset_window(result.asset, windows, at)
                if found:
                    slots[result.pk] = found
        open_slots = [s for s in slots.values() if s[0] <= at < s[1]]
        if not open_slots:
            return False
        if not _transition(
            wave,
            WaveState.AWAITING,
            WaveState.PRECHECKS,
            promoted_at=at,
            window_confirmed_at=at,
            window_start=min(s[0] for s in open_slots),
            window_end=max(s[1] for s in open_slots),
        ):
            return False
        for result in results:
            slot = slots.get(result.pk)
            if slot:
                DeploymentResult.objects.filter(pk=result.pk).update(
                    window_start=slot[0], window_end=slot[1]
                )
        _event(
            "wave.promoted",
            wave,
            at,
            actor=actor,
            approved_by=approval.approved_by.email if approval else None,
            approver_role=approval.role if approval else ApproverRole.NONE,
            automatic=approval is None,
            expedited=wave.rollout.is_expedited,
            window_start=wave.window_start.isoformat(),
            window_end=wave.window_end.isoformat(),
        )
    return True


def _held_for_restore_tests(wave: Wave, results: list[DeploymentResult], at: datetime) -> bool:
    """With the client's restore-test gate on, a wave whose critical members lack a passing
    restore test within the rule's days does not start: a note and ``wave.restore_test_missing``
    say which, once for each set of missing systems."""
    rule = restore_rule()
    if not rule.gate_waves:
        return False
    lacking = sorted(a.hostname for a in lacking_restore_test([r.asset for r in results], at, rule))
    if not lacking:
        return False
    reason = (
        f"Held: no passing restore test in the last {rule.max_age_days} days for critical "
        f"system(s) {', '.join(lacking)}; record one on the Restore tests page."
    )
    if not any(n.get("note") == reason for n in wave.notes):
        Wave.objects.filter(pk=wave.pk).update(notes=_note(wave, at, reason))
        _event(
            "wave.restore_test_missing",
            wave,
            at,
            max_age_days=rule.max_age_days,
            assets=lacking,
            reason=reason,
        )
    return True


def _catch_up_awaiting(wave: Wave, at: datetime, windows: list[MaintenanceWindow]) -> str | None:
    """The wave's window passed before it could start: move it to the next window.

    An approved wave that missed its window (no evaluation ran while it was open) records a
    "caught up" note and event; a wave still waiting for approval just looks at the next window.
    """
    results = list(wave.results.select_related("asset"))
    slots = [s for r in results if (s := _next_asset_window(r.asset, windows, at))]
    if not slots:
        return None
    start, end = min(slots)
    old_end = wave.window_end
    approved = required_approver(wave) is None or Approval.objects.filter(wave=wave).exists()
    fields: dict[str, Any] = {"window_start": start, "window_end": end}
    if approved:
        # Approved but the window passed unused (no evaluation ran in it): say so.
        fields["caught_up"] = True
        fields["notes"] = _note(
            wave,
            at,
            f"Window ending {old_end.isoformat()} was missed; catches up in the window "
            f"opening {start.isoformat()}.",
        )
    updated = Wave.objects.filter(pk=wave.pk, state=WaveState.AWAITING, window_end=old_end).update(
        **fields
    )
    if not updated:
        return None
    for result in results:
        slot = _next_asset_window(result.asset, windows, at)
        if slot:
            DeploymentResult.objects.filter(pk=result.pk).update(
                window_start=slot[0], window_end=slot[1]
            )
    if not approved:
        # Still waiting for its approval: the wave simply looks at the next window.
        return "wave.rescheduled"
    _event(
        "wave.caught_up", wave, at, window_start=start.isoformat(), missed_end=old_end.isoformat()
    )
    return "wave.caught_up"


def _prechecks(wave: Wave, at: datetime) -> str | None:
    connector = get_connector()
    results = list(wave.results.select_related("asset", "asset__asset_class"))
    waiting = [r for r in results if r.needs_snapshot and r.snapshot_confirmed_at is None]
    requested = 0
    for result in waiting:
        if result.snapshot_requested_at is None:
            claimed = DeploymentResult.objects.filter(
                pk=result.pk, snapshot_requested_at__isnull=True
            ).update(snapshot_requested_at=at)
            if claimed:
                requested += 1
                if connector.take_snapshot(result.asset, wave=wave):
                    confirm_snapshot(result=result, at=at, actor=f"connector:{connector.name}")
    if requested:
        _event("wave.snapshots_requested", wave, at, assets=requested)
    if DeploymentResult.objects.filter(
        wave=wave, needs_snapshot=True, snapshot_confirmed_at__isnull=True
    ).exists():
        return "wave.snapshots_requested" if requested else None
    if not _transition(wave, WaveState.PRECHECKS, WaveState.DEPLOYING, deploying_at=at):
        return None
    prechecks = {
        "window_confirmed_at": wave.window_confirmed_at.isoformat(),
        "snapshots_confirmed": sum(1 for r in results if r.needs_snapshot),
        "restart": {
            mode: sum(1 for r in results if r.restart_mode == mode) for mode in RestartMode.values
        },
    }
    _event("wave.prechecks_passed", wave, at, **prechecks)
    _send(wave, results, at, connector)
    return "wave.deploying"


def _send(wave: Wave, results: list[DeploymentResult], at: datetime, connector: Any) -> int:
    """Send the wave's patches to the assets that have a window; the others wait for one."""
    assets = [r.asset for r in results if r.window_end is not None]
    waiting = [r for r in results if r.window_end is None]
    if waiting:
        DeploymentResult.objects.filter(pk__in=[r.pk for r in waiting]).update(
            message="No maintenance window applies to this asset; it waits for one."
        )
        text = f"{len(waiting)} asset(s) have no maintenance window and wait for one."
        wave.notes = _note(wave, at, text)
        Wave.objects.filter(pk=wave.pk).update(notes=wave.notes)
    _mark_findings(wave, assets, FindingState.SCHEDULED, at, from_states=(FindingState.OPEN,))
    connector.deploy(wave, assets)
    _event(
        "wave.deploying",
        wave,
        at,
        connector=connector.name,
        assets=len(assets),
        without_window=len(waiting),
        findings=_wave_findings(wave, [a.pk for a in assets]),
    )
    return len(assets)


def _breached(wave: Wave) -> Decimal | None:
    rate = wave.breach_rate()
    if rate is not None and rate > wave.ring.failure_threshold_pct:
        return rate
    return None


def _deploying(wave: Wave, at: datetime, windows: list[MaintenanceWindow]) -> str | None:
    pending = list(wave.results.filter(status=DeploymentStatus.PENDING).select_related("asset"))
    missed = [r for r in pending if r.window_end is None or r.window_end <= at]
    if missed:
        connector = get_connector()
        moved = []
        for result in missed:
            if wave.rollout.is_expedited:
                slot = _emergency_slot(at)  # the device was offline: another emergency window
            elif result.window_end is None:
                slot = asset_window(result.asset, windows, at)  # a window was added since
            else:
                slot = _next_asset_window(result.asset, windows, at)
            if slot is None:
                continue
            claimed = DeploymentResult.objects.filter(
                pk=result.pk, status=DeploymentStatus.PENDING, window_end=result.window_end
            ).update(
                window_start=slot[0],
                window_end=slot[1],
                caught_up=True,
                message="Window missed (device offline or late); catches up in the next window.",
            )
            if claimed:
                moved.append(result.asset)
        if moved:
            connector.deploy(wave, moved, catch_up=True)
            text = f"{len(moved)} asset(s) missed the window; they catch up in their next window."
            Wave.objects.filter(pk=wave.pk).update(caught_up=True, notes=_note(wave, at, text))
            _event(
                "wave.caught_up",
                wave,
                at,
                assets=[a.hostname for a in moved],
                findings=_wave_findings(wave, [a.pk for a in moved]),
            )
            return "wave.caught_up"
    if pending:
        return None
    if _transition(wave, WaveState.DEPLOYING, WaveState.DEPLOYED, deployed_at=at):
        _event("wave.deployed", wave, at, **_counts_payload(wave))
        return "wave.deployed"
    return None


def _refresh_verification(wave: Wave, at: datetime) -> int:
    """Results whose findings a later inventory verified become verified (with that time)."""
    verified = 0
    by_asset = _rollout_assets(wave.rollout)
    done: list[Finding] = []
    for result in wave.results.filter(status=DeploymentStatus.DEPLOYED):
        findings = by_asset.get(result.asset_id, [])
        if findings and all(f.state == FindingState.VERIFIED for f in findings):
            when = max(f.verified_at for f in findings)
            updated = DeploymentResult.objects.filter(
                pk=result.pk, status=DeploymentStatus.DEPLOYED
            ).update(status=DeploymentStatus.VERIFIED, verified_at=when)
            if updated:
                verified += updated
                done.extend(findings)
    if verified:
        _event("deployment.verified", wave, at, assets=verified, findings=_finding_uuids(done))
    return verified


def _verifying(wave: Wave, at: datetime) -> str | None:
    _refresh_verification(wave, at)
    waiting = wave.results.filter(status=DeploymentStatus.DEPLOYED).count()
    timeout = timedelta(hours=wave.ring.verify_timeout_hours)
    if wave.rollout.is_expedited:
        # The emergency lane cannot wait days for an inventory: the soak starts after one soak.
        timeout = min(timeout, wave.soak)
    timed_out = at >= wave.verifying_at + timeout
    if waiting and not timed_out:
        return None
    notes = wave.notes
    if waiting:
        notes = _note(wave, at, f"{waiting} asset(s) not yet verified by inventory; soak started.")
    if _transition(
        wave,
        WaveState.VERIFYING,
        WaveState.SOAKING,
        soak_started_at=at,
        soak_ends_at=at + wave.soak,
        notes=notes,
    ):
        _event(
            "wave.soaking",
            wave,
            at,
            soak_ends_at=wave.soak_ends_at.isoformat(),
            soak_hours=wave.effective_soak_hours,
            unverified=waiting,
        )
        return "wave.soaking"
    return None


def _soaking(wave: Wave, at: datetime) -> str | None:
    _refresh_verification(wave, at)
    if at < wave.soak_ends_at:
        return None
    checks = set(RunbookCheck.objects.filter(is_active=True).values_list("pk", flat=True))
    passed = set(
        wave.runbook_results.filter(passed=True).values_list("runbook_check_id", flat=True)
    )
    if checks - passed:
        return None
    if _transition(wave, WaveState.SOAKING, WaveState.PASSED, passed_at=at):
        _event("wave.passed", wave, at, **_counts_payload(wave))
        return "wave.passed"
    return None


def _finish(rollout: Rollout, waves: list[Wave], at: datetime) -> str | None:
    """Every wave is over. A rollout that left no deployed (or verified) result anywhere did
    not patch anything: it ends as ``nothing_deployed``, never as a success."""
    counts = {
        row["status"]: row["n"]
        for row in DeploymentResult.objects.filter(wave__rollout=rollout)
        .values("status")
        .annotate(n=Count("id"))
    }
    deployed = counts.get(DeploymentStatus.DEPLOYED, 0) + counts.get(DeploymentStatus.VERIFIED, 0)
    skipped = sum(1 for w in waves if w.state == WaveState.SKIPPED)
    state = RolloutState.COMPLETED if deployed else RolloutState.NOTHING_DEPLOYED
    updated = Rollout.objects.filter(pk=rollout.pk, state=RolloutState.ACTIVE).update(
        state=state, completed_at=at
    )
    if not updated:
        return None
    payload = {
        "deployed": deployed,
        "verified": counts.get(DeploymentStatus.VERIFIED, 0),
        "failed": counts.get(DeploymentStatus.FAILED, 0),
        "rolled_back": counts.get(DeploymentStatus.ROLLED_BACK, 0),
        "waves": len(waves),
        "skipped_waves": skipped,
        "expedited": rollout.is_expedited,
    }
    kind = "rollout.completed" if deployed else "rollout.nothing_deployed"
    if not deployed:
        payload["reason"] = (
            "Every wave was skipped: no ring held a device needing these patches."
            if skipped == len(waves)
            else "No wave left a deployed result."
        )
    record_event(
        kind=kind,
        subject_type="rollout",
        subject_id=rollout.uuid,
        actor=SYSTEM,
        payload=payload,
        occurred_at=at,
    )
    return kind


def _step(rollout: Rollout, at: datetime) -> str | None:
    rollout.refresh_from_db()
    if rollout.state != RolloutState.ACTIVE:
        return None
    waves = list(rollout.waves.select_related("ring", "rollout").order_by("order"))
    current = next((w for w in waves if w.state not in WAVE_DONE_STATES), None)
    if current is None:
        return _finish(rollout, waves, at)
    if current.state in IN_FLIGHT_STATES:
        rate = _breached(current)
        if rate is not None:
            _halt(
                rollout,
                current,
                at,
                SYSTEM,
                f"Failure rate {rate} % in {current.ring.name} is over its "
                f"{current.ring.failure_threshold_pct} % threshold.",
                breach_rate=rate,
            )
            return "wave.halted"
    windows = list(MaintenanceWindow.objects.filter(is_active=True))
    state = current.state
    if state == WaveState.PENDING:
        return _enter_awaiting(current, at, windows)
    if state == WaveState.AWAITING:
        if promote_wave(wave=current, at=at):
            return "wave.promoted"
        if not rollout.is_expedited and current.window_end and current.window_end <= at:
            return _catch_up_awaiting(current, at, windows)
        return None
    if state == WaveState.PRECHECKS:
        return _prechecks(current, at)
    if state == WaveState.DEPLOYING:
        return _deploying(current, at, windows)
    if state == WaveState.DEPLOYED:
        if _transition(current, WaveState.DEPLOYED, WaveState.VERIFYING, verifying_at=at):
            _event("wave.verifying", current, at)
            return "wave.verifying"
        return None
    if state == WaveState.VERIFYING:
        return _verifying(current, at)
    if state == WaveState.SOAKING:
        return _soaking(current, at)
    return None


def evaluate_rollout(*, rollout: Rollout, at: datetime | None = None) -> list[str]:
    """Advance a rollout as far as it can go at ``at``; returns the transitions made.

    Safe to call from any number of workers at once: each transition is claimed by a conditional
    update, so it happens exactly once.
    """
    at = at or timezone.now()
    changes: list[str] = []
    with transaction.atomic():
        for _ in range(20):
            step = _step(rollout, at)
            if step is None or step == "wave.halted":
                if step:
                    changes.append(step)
                break
            changes.append(step)
    return changes


def evaluate_active_rollouts(*, at: datetime | None = None) -> dict[str, int]:
    """Evaluate every active rollout of the current client (the beat task calls this)."""
    at = at or timezone.now()
    summary = {"rollouts": 0, "transitions": 0}
    for rollout in Rollout.objects.filter(state=RolloutState.ACTIVE).order_by("created_at"):
        summary["rollouts"] += 1
        summary["transitions"] += len(evaluate_rollout(rollout=rollout, at=at))
    return summary
