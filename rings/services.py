"""Write side of the rings app: membership, approvals, the wave state machine, promotion,
halts, rollbacks and runbook checks.

Every state change is a conditional update (``filter(pk=…, state=old).update(…)`` with a row-count
check), so two workers or two beat ticks evaluating the same rollout never promote twice or skip a
ring, and every change records an evidence event in the same transaction.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from evidence.services import actor_label, record_event
from inventory.models import Asset, AssetClass
from patchops.choices import FindingState, RebootPolicy, SeverityTier
from patchops.models import Finding

from .choices import (
    ApproverRole,
    DeploymentStatus,
    MembershipSource,
    RestartMode,
    RingAssignment,
    RollbackOutcome,
    RolloutSelection,
    RolloutState,
    WaveState,
)
from .models import (
    Approval,
    DeploymentResult,
    MaintenanceWindow,
    Ring,
    RingMembership,
    RollbackEvent,
    Rollout,
    RunbookCheck,
    RunbookCheckResult,
    Wave,
)

__all__ = [
    "ApprovalRefused",
    "DEFAULT_REBOOT_POLICY",
    "reboot_policy_for",
    "restart_mode_for",
    "assign_rings",
    "pin_asset",
    "unpin_asset",
    "applicable_windows",
    "asset_window",
    "create_rollout",
    "approve_wave",
    "evaluate_rollout",
    "evaluate_active_rollouts",
    "promote_wave",
    "halt_rollout",
    "record_deployment_outcome",
    "confirm_snapshot",
    "record_rollback",
    "record_runbook_check",
]

SYSTEM = "system:rings"


class ApprovalRefused(PermissionDenied):
    """The approver does not hold the role the ring requires (answers 403 with the reason)."""


# Used when no SLA policy (patchops.SlaPolicy / SlaRule) defines the reboot policy.
DEFAULT_REBOOT_POLICY = {
    AssetClass.CORE_SERVER: RebootPolicy.SCHEDULED,
    AssetClass.WORKSTATION: RebootPolicy.USER_PROMPTED,
    AssetClass.DO_NOT_DISRUPT: RebootPolicy.MANUAL_APPROVAL,
}

# Open findings a rollout may carry (verified, excepted and not-applicable ones are done).
ROLLABLE_STATES = (FindingState.OPEN, FindingState.SCHEDULED, FindingState.FAILED)


# --------------------------------------------------------------------------- reboot policy


def reboot_policy_for(asset: Asset, tier: str | None = None) -> str:
    """The reboot policy of the client's SLA policy for the asset's class (and tier).

    Reads ``patchops.SlaRule.reboot_policy`` when that model exists; otherwise falls back to
    core server → scheduled, workstation → user prompted, do-not-disrupt → manual approval (and
    manual approval for any other class, the safe choice).
    """
    from patchops import models as patch_models

    rule_model = getattr(patch_models, "SlaRule", None)
    if rule_model is not None:
        rules = rule_model.objects.filter(asset_class_id=asset.asset_class_id)
        if tier:
            rules = rules.filter(tier=tier)
        value = rules.order_by("pk").values_list("reboot_policy", flat=True).first()
        if value:
            return value
    key = asset.asset_class.key
    if asset.asset_class.is_do_not_disrupt:
        return RebootPolicy.MANUAL_APPROVAL
    return DEFAULT_REBOOT_POLICY.get(key, RebootPolicy.MANUAL_APPROVAL)


def restart_mode_for(policy: str) -> str:
    """A scheduled reboot restarts automatically; prompted and approved reboots are manual."""
    return RestartMode.AUTOMATED if policy == RebootPolicy.SCHEDULED else RestartMode.MANUAL


# --------------------------------------------------------------------------- membership


def _spread_key(asset: Asset) -> str:
    # Deterministic but not alphabetical, so samples do not cluster on hostname prefixes.
    return hashlib.sha256(f"{asset.hostname}|{asset.uuid}".encode()).hexdigest()


def _pick_canary(candidates: list[Asset], fleet: list[Asset], size: int) -> list[Asset]:
    safe = [a for a in candidates if not a.asset_class.is_do_not_disrupt]
    non_critical = [a for a in safe if not a.asset_class.is_critical]
    chosen: list[Asset] = []

    def cover(attr: str) -> None:
        for value in sorted({getattr(a, attr) for a in fleet}):
            if any(getattr(a, attr) == value for a in chosen):
                continue
            # Prefer non-critical assets; a critical (never do-not-disrupt) one only when the
            # OS family or role has nothing else. Its snapshot pre-check still applies.
            pool = [a for a in non_critical if getattr(a, attr) == value] or [
                a for a in safe if getattr(a, attr) == value
            ]
            pool = [a for a in pool if a not in chosen]
            if pool:
                chosen.append(pool[0])

    cover("os_family")
    cover("role")
    for asset in non_critical:
        if len(chosen) >= size:
            break
        if asset not in chosen:
            chosen.append(asset)
    return chosen


def _pick_spread(candidates: list[Asset], target: int) -> list[Asset]:
    """``target`` assets spread proportionally over (OS family, role) strata."""
    if target <= 0 or not candidates:
        return []
    strata: dict[tuple[str, str], list[Asset]] = defaultdict(list)
    for asset in candidates:
        strata[(asset.os_family, asset.role)].append(asset)
    total = len(candidates)
    target = min(target, total)
    quotas = {key: target * len(items) / total for key, items in strata.items()}
    counts = {key: math.floor(q) for key, q in quotas.items()}
    rest = target - sum(counts.values())
    for key in sorted(quotas, key=lambda k: (-(quotas[k] - counts[k]), k))[:rest]:
        counts[key] += 1
    # Every stratum is represented when the target allows it.
    empty = sorted(k for k, n in counts.items() if n == 0)
    for key in empty:
        donor = max(counts, key=lambda k: (counts[k], k))
        if counts[donor] <= 1:
            break
        counts[donor] -= 1
        counts[key] += 1
    picked: list[Asset] = []
    for key in sorted(strata):
        picked.extend(strata[key][: counts[key]])
    return picked


def assign_rings(*, actor: Any = SYSTEM, at: datetime | None = None) -> dict[str, int]:
    """Place every managed asset that is not pinned into canary, pilot or production.

    Deterministic: the same fleet gives the same rings. Pinned members never move. Canary: a small
    sample of non-critical assets that covers every OS family and role present (at least one per
    OS family even in small fleets); never a do-not-disrupt asset. Pilot: the ring's
    ``fleet_percent`` (10–20 %) of the fleet, spread across OS families and roles. Production: the
    rest.
    """
    at = at or timezone.now()
    rings = {r.assignment: r for r in Ring.objects.order_by("-order")}
    canary = rings.get(RingAssignment.CANARY)
    pilot = rings.get(RingAssignment.PILOT)
    production = rings.get(RingAssignment.PRODUCTION)
    if production is None:
        raise ValidationError("Define a production ring before assigning members automatically.")
    with transaction.atomic():
        fleet = sorted(
            Asset.objects.filter(is_managed=True).select_related("asset_class"), key=_spread_key
        )
        pinned = dict(
            RingMembership.objects.filter(source=MembershipSource.PINNED).values_list(
                "asset_id", "ring_id"
            )
        )
        free = [a for a in fleet if a.pk not in pinned]
        target: dict[int, Ring] = {}
        if canary is not None:
            size = canary.canary_size - sum(1 for r in pinned.values() if r == canary.pk)
            for asset in _pick_canary(free, fleet, max(size, 0)):
                target[asset.pk] = canary
        if pilot is not None:
            wanted = math.ceil(len(fleet) * pilot.fleet_percent / 100)
            wanted -= sum(1 for r in pinned.values() if r == pilot.pk)
            rest = [a for a in free if a.pk not in target]
            for asset in _pick_spread(rest, wanted):
                target[asset.pk] = pilot
        for asset in free:
            target.setdefault(asset.pk, production)
        existing = {
            m.asset_id: m for m in RingMembership.objects.filter(source=MembershipSource.AUTOMATIC)
        }
        moved = created = 0
        for asset_id, ring in target.items():
            membership = existing.get(asset_id)
            if membership is None:
                RingMembership.objects.create(
                    ring=ring, asset_id=asset_id, assigned_at=at, assigned_by=actor_label(actor)
                )
                created += 1
            elif membership.ring_id != ring.pk:
                RingMembership.objects.filter(pk=membership.pk).update(
                    ring=ring, assigned_at=at, assigned_by=actor_label(actor)
                )
                moved += 1
        summary = {
            "assets": len(fleet),
            "pinned": len(pinned),
            "created": created,
            "moved": moved,
            **{
                r.key: sum(1 for ring in target.values() if ring.pk == r.pk)
                + sum(1 for rid in pinned.values() if rid == r.pk)
                for r in rings.values()
            },
        }
        record_event(
            kind="ring.membership_assigned",
            subject_type="ring",
            subject_id="all",
            actor=actor,
            payload=summary,
            occurred_at=at,
        )
    return summary


def pin_asset(
    *, asset: Asset, ring: Ring, actor: Any, at: datetime | None = None
) -> RingMembership:
    """Pin an asset into a ring by hand; the automatic assignment never moves it."""
    at = at or timezone.now()
    with transaction.atomic():
        membership, _ = RingMembership.objects.update_or_create(
            asset=asset,
            defaults={
                "ring": ring,
                "source": MembershipSource.PINNED,
                "assigned_at": at,
                "assigned_by": actor_label(actor),
            },
        )
        record_event(
            kind="ring.member_pinned",
            subject_type="asset",
            subject_id=asset.uuid,
            actor=actor,
            payload={"ring": ring.key, "hostname": asset.hostname},
            occurred_at=at,
        )
    return membership


def unpin_asset(*, asset: Asset, actor: Any, at: datetime | None = None) -> None:
    """Release a pin: the next automatic assignment may move the asset."""
    at = at or timezone.now()
    with transaction.atomic():
        updated = RingMembership.objects.filter(asset=asset, source=MembershipSource.PINNED).update(
            source=MembershipSource.AUTOMATIC, assigned_by=actor_label(actor)
        )
        if updated:
            record_event(
                kind="ring.member_unpinned",
                subject_type="asset",
                subject_id=asset.uuid,
                actor=actor,
                payload={"hostname": asset.hostname},
                occurred_at=at,
            )


# --------------------------------------------------------------------------- windows


def applicable_windows(
    asset: Asset, windows: Iterable[MaintenanceWindow]
) -> list[MaintenanceWindow]:
    """The most specific active windows for an asset: asset class, else site, else client."""
    windows = [w for w in windows if w.is_active]
    for scope in ("asset_class", "site", "client"):
        found = [w for w in windows if w.scope == scope and w.applies_to(asset)]
        if found:
            return found
    return []


def asset_window(
    asset: Asset, windows: Iterable[MaintenanceWindow], at: datetime
) -> tuple[datetime, datetime] | None:
    """The asset's window that is open at ``at``, else its next one."""
    tz = _tz()
    best = None
    for window in applicable_windows(asset, windows):
        found = window.current_or_next(at, tz)
        if found and (best is None or found[0] < best[0]):
            best = found
    return best


def _next_asset_window(
    asset: Asset, windows: Iterable[MaintenanceWindow], after: datetime
) -> tuple[datetime, datetime] | None:
    tz = _tz()
    best = None
    for window in applicable_windows(asset, windows):
        found = window.next_occurrence(after, tz)
        if found and (best is None or found[0] < best[0]):
            best = found
    return best


def _tz():
    from zoneinfo import ZoneInfo

    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "tz", None) or ZoneInfo("UTC")


# --------------------------------------------------------------------------- rollouts


def create_rollout(
    *,
    name: str,
    actor: Any,
    selection: str,
    finding_ids: Sequence[Any] = (),
    patch_identifiers: Sequence[str] = (),
    os_family: str = "",
    at: datetime | None = None,
) -> Rollout:
    """A rollout of chosen findings, chosen patch identifiers, or every open critical finding of
    one OS family, with one pending wave per ring."""
    at = at or timezone.now()
    open_findings = Finding.objects.filter(state__in=ROLLABLE_STATES)
    if selection == RolloutSelection.FINDINGS:
        findings = open_findings.filter(uuid__in=list(finding_ids))
        if not finding_ids:
            raise ValidationError({"findings": "Choose at least one finding."})
    elif selection == RolloutSelection.PATCH_IDENTIFIERS:
        if not patch_identifiers:
            raise ValidationError({"patch_identifiers": "Name at least one patch identifier."})
        findings = open_findings.filter(patch_identifier__in=list(patch_identifiers))
    elif selection == RolloutSelection.CRITICAL_FOR_OS:
        if not os_family:
            raise ValidationError({"os_family": "Choose the OS family."})
        findings = open_findings.filter(tier=SeverityTier.CRITICAL, asset__os_family=os_family)
    else:
        raise ValidationError({"selection": f"Unknown selection “{selection}”."})
    if not name.strip():
        raise ValidationError({"name": "A rollout needs a name."})
    findings = list(findings)
    if not findings:
        raise ValidationError({"findings": "No open finding matches this selection."})
    rings = list(Ring.objects.order_by("order"))
    if not rings:
        raise ValidationError("This client has no rings.")
    with transaction.atomic():
        rollout = Rollout.objects.create(
            name=name.strip(),
            selection=selection,
            os_family=os_family,
            patch_identifiers=sorted({f.patch_identifier for f in findings}),
            created_by=actor_label(actor),
            created_at=at,
        )
        rollout.findings.set(findings)
        Wave.objects.bulk_create(
            Wave(rollout=rollout, ring=ring, order=index) for index, ring in enumerate(rings)
        )
        record_event(
            kind="rollout.created",
            subject_type="rollout",
            subject_id=rollout.uuid,
            actor=actor,
            payload={
                "name": rollout.name,
                "selection": selection,
                "patches": rollout.patch_identifiers,
                "findings": len(findings),
                "rings": [r.key for r in rings],
            },
            occurred_at=at,
        )
    return rollout


def _role_may_approve(role: str | None, approver_role: str) -> bool:
    # An MSP admin may also approve what an engineer may; a client owner's approval is theirs alone.
    if role == approver_role:
        return True
    return approver_role == ApproverRole.ENGINEER and role == ApproverRole.MSP_ADMIN


def approve_wave(*, wave: Wave, user: Any, at: datetime | None = None, note: str = "") -> Approval:
    """Approve promotion into the wave's ring. Only a user holding the ring's approver role may."""
    from tenants.models import User
    from tenants.permissions import role_in

    at = at or timezone.now()
    ring = wave.ring
    if not isinstance(user, User):
        raise ApprovalRefused("Approvals are given by people, not by API tokens.")
    role = role_in(user, getattr(connection, "tenant", None))
    if not _role_may_approve(role, ring.approver_role):
        label = ApproverRole(ring.approver_role).label.lower()
        article = "an" if label[0] in "aeiou" else "a"
        raise ApprovalRefused(
            f"Promotion into {ring.name} must be approved by {article} {label}; "
            f"your role here is {(role or 'none').replace('_', ' ')}."
        )
    if wave.rollout.state != RolloutState.ACTIVE:
        raise ValidationError({"wave": "The rollout is not active."})
    if wave.state not in (WaveState.PENDING, WaveState.AWAITING):
        raise ValidationError(
            {"wave": f"This wave is already {WaveState(wave.state).label.lower()}."}
        )
    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                wave=wave, approved_by=user, role=role, approved_at=at, note=note
            )
            record_event(
                kind="wave.approved",
                subject_type="wave",
                subject_id=wave.uuid,
                actor=user,
                payload={"ring": ring.key, "role": role, "rollout": str(wave.rollout.uuid)},
                occurred_at=at,
            )
    except IntegrityError as exc:
        raise ValidationError({"wave": "This wave is already approved."}) from exc
    return approval


def _note(wave: Wave, at: datetime, text: str) -> list[dict[str, str]]:
    return [*wave.notes, {"at": at.isoformat(), "note": text}]


def _transition(wave: Wave, old: str, new: str, **fields: Any) -> bool:
    """The claim: move the wave only if it is still in ``old``.

    The filter stays on the wave's own columns: a condition on a joined table (say the rollout's
    state) becomes an ``id IN (subquery)`` that PostgreSQL does not re-check after waiting for a
    concurrent writer's lock, and both writers would win. A halt moves the wave itself to halted,
    so the wave's own state is enough.
    """
    updated = Wave.objects.filter(pk=wave.pk, state=old).update(state=new, **fields)
    if updated:
        wave.state = new
        for key, value in fields.items():
            setattr(wave, key, value)
    return bool(updated)


def _event(kind: str, wave: Wave, at: datetime, actor: Any = SYSTEM, **payload: Any) -> None:
    record_event(
        kind=kind,
        subject_type="wave",
        subject_id=wave.uuid,
        actor=actor,
        payload={"rollout": str(wave.rollout.uuid), "ring": wave.ring.key, **payload},
        occurred_at=at,
    )


def _rollout_assets(rollout: Rollout) -> dict[int, list[Finding]]:
    by_asset: dict[int, list[Finding]] = defaultdict(list)
    for finding in rollout.findings.all():
        by_asset[finding.asset_id].append(finding)
    return by_asset


def _enter_awaiting(wave: Wave, at: datetime, windows: list[MaintenanceWindow]) -> str | None:
    by_asset = _rollout_assets(wave.rollout)
    members = (
        Asset.objects.filter(ring_membership__ring=wave.ring, pk__in=list(by_asset))
        .select_related("asset_class")
        .order_by("hostname")
    )
    members = list(members)
    if not members:
        if _transition(
            wave,
            WaveState.PENDING,
            WaveState.PASSED,
            awaiting_at=at,
            passed_at=at,
            notes=_note(wave, at, "No asset of this ring needs these patches."),
        ):
            _event("wave.passed", wave, at, reason="no assets in ring")
            return "wave.passed"
        return None
    slots = {a.pk: asset_window(a, windows, at) for a in members}
    starts = [s for s in slots.values() if s]
    first = min(starts) if starts else None
    note = [] if first else [{"at": at.isoformat(), "note": "No maintenance window applies yet."}]
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
    )
    return "wave.awaiting"


_TIER_ORDER = [SeverityTier.CRITICAL, SeverityTier.HIGH, SeverityTier.MEDIUM, SeverityTier.LOW]


def _worst_tier(findings: list[Finding]) -> str | None:
    tiers = {f.tier for f in findings}
    return next((t for t in _TIER_ORDER if t in tiers), None)


def promote_wave(*, wave: Wave, at: datetime | None = None, actor: Any = SYSTEM) -> bool:
    """Promote the rollout into the wave's ring (awaiting → pre-checks).

    Only when the previous wave passed (its soak ended and its failure rate stayed within its
    threshold), the approval for this ring exists and a maintenance window of the wave is open.
    Returns False when another worker promoted first or a condition does not hold yet.
    """
    at = at or timezone.now()
    with transaction.atomic():
        wave = Wave.objects.select_related("rollout", "ring").get(pk=wave.pk)
        if wave.state != WaveState.AWAITING or wave.rollout.state != RolloutState.ACTIVE:
            return False
        previous = wave.rollout.waves.filter(order__lt=wave.order).exclude(state=WaveState.PASSED)
        if previous.exists():
            raise ValidationError({"wave": "The previous ring has not passed yet."})
        if not Approval.objects.filter(wave=wave).exists():
            return False
        windows = list(MaintenanceWindow.objects.filter(is_active=True))
        results = list(wave.results.select_related("asset"))
        open_slots = []
        for result in results:
            slot = asset_window(result.asset, windows, at)
            if slot and slot[0] <= at < slot[1]:
                open_slots.append(slot)
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
            slot = asset_window(result.asset, windows, at)
            if slot:
                DeploymentResult.objects.filter(pk=result.pk).update(
                    window_start=slot[0], window_end=slot[1]
                )
        approval = wave.approval
        _event(
            "wave.promoted",
            wave,
            at,
            actor=actor,
            approved_by=approval.approved_by.email,
            approver_role=approval.role,
            window_start=wave.window_start.isoformat(),
            window_end=wave.window_end.isoformat(),
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
    approved = Approval.objects.filter(wave=wave).exists()
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
    from integrations.connectors import get_connector

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
    # Only assets with a maintenance window of their own are sent; the others wait (and are
    # sent as soon as a window applies to them, see _deploying).
    assets = [r.asset for r in results if r.window_end is not None]
    waiting = [r for r in results if r.window_end is None]
    if waiting:
        DeploymentResult.objects.filter(pk__in=[r.pk for r in waiting]).update(
            message="No maintenance window applies to this asset; it waits for one."
        )
        text = f"{len(waiting)} asset(s) have no maintenance window and wait for one."
        Wave.objects.filter(pk=wave.pk).update(notes=_note(wave, at, text))
    _mark_findings(wave, assets, FindingState.SCHEDULED, at, from_states=(FindingState.OPEN,))
    connector.deploy(wave, assets)
    _event(
        "wave.deploying",
        wave,
        at,
        connector=connector.name,
        assets=len(assets),
        without_window=len(waiting),
    )
    return "wave.deploying"


def _mark_findings(
    wave: Wave,
    assets: Sequence[Asset],
    state: str,
    at: datetime,
    *,
    from_states: Sequence[str] = ROLLABLE_STATES,
) -> int:
    fields: dict[str, Any] = {"state": state, "updated_at": at}
    if state == FindingState.DEPLOYED:
        fields["deployed_at"] = at
    return wave.rollout.findings.filter(
        asset__in=[a.pk for a in assets], state__in=from_states
    ).update(**fields)


def _breached(wave: Wave) -> Decimal | None:
    rate = wave.failure_rate()
    if rate is not None and rate > wave.ring.failure_threshold_pct:
        return rate
    return None


def _deploying(wave: Wave, at: datetime, windows: list[MaintenanceWindow]) -> str | None:
    from integrations.connectors import get_connector

    pending = list(wave.results.filter(status=DeploymentStatus.PENDING).select_related("asset"))
    missed = [r for r in pending if r.window_end is None or r.window_end <= at]
    if missed:
        connector = get_connector()
        moved = []
        for result in missed:
            if result.window_end is None:
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
            _event("wave.caught_up", wave, at, assets=[a.hostname for a in moved])
            return "wave.caught_up"
    if pending:
        return None
    if _transition(wave, WaveState.DEPLOYING, WaveState.DEPLOYED, deployed_at=at):
        _event("wave.deployed", wave, at, **_counts_payload(wave))
        return "wave.deployed"
    return None


def _counts_payload(wave: Wave) -> dict[str, Any]:
    counts = wave.counts()
    rate = wave.failure_rate()
    return {"counts": counts, "failure_rate": str(rate) if rate is not None else None}


def _refresh_verification(wave: Wave, at: datetime) -> int:
    """Results whose findings a later inventory verified become verified (with that time)."""
    verified = 0
    named: list[str] = []
    by_asset = _rollout_assets(wave.rollout)
    for result in wave.results.filter(status=DeploymentStatus.DEPLOYED):
        findings = by_asset.get(result.asset_id, [])
        if findings and all(f.state == FindingState.VERIFIED for f in findings):
            when = max(f.verified_at for f in findings)
            done = DeploymentResult.objects.filter(
                pk=result.pk, status=DeploymentStatus.DEPLOYED
            ).update(status=DeploymentStatus.VERIFIED, verified_at=when)
            verified += done
            if done:
                named += [str(f.uuid) for f in findings]
    if verified:
        _event("deployment.verified", wave, at, assets=verified, findings=sorted(named))
    return verified


def _verifying(wave: Wave, at: datetime) -> str | None:
    _refresh_verification(wave, at)
    waiting = wave.results.filter(status=DeploymentStatus.DEPLOYED).count()
    timed_out = at >= wave.verifying_at + timedelta(hours=wave.ring.verify_timeout_hours)
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
        soak_ends_at=at + wave.ring.soak,
        notes=notes,
    ):
        _event(
            "wave.soaking", wave, at, soak_ends_at=wave.soak_ends_at.isoformat(), unverified=waiting
        )
        return "wave.soaking"
    return None


def _soaking(wave: Wave, at: datetime) -> str | None:
    _refresh_verification(wave, at)
    if at < wave.soak_ends_at:
        return None
    checks = set(RunbookCheck.objects.filter(is_active=True).values_list("pk", flat=True))
    recorded = set(wave.runbook_results.values_list("runbook_check_id", flat=True))
    if checks - recorded:
        return None
    if _transition(wave, WaveState.SOAKING, WaveState.PASSED, passed_at=at):
        _event("wave.passed", wave, at, **_counts_payload(wave))
        return "wave.passed"
    return None


def _step(rollout: Rollout, at: datetime) -> str | None:
    rollout.refresh_from_db()
    if rollout.state != RolloutState.ACTIVE:
        return None
    waves = list(rollout.waves.select_related("ring", "rollout").order_by("order"))
    current = next((w for w in waves if w.state != WaveState.PASSED), None)
    if current is None:
        updated = Rollout.objects.filter(pk=rollout.pk, state=RolloutState.ACTIVE).update(
            state=RolloutState.COMPLETED, completed_at=at
        )
        if updated:
            record_event(
                kind="rollout.completed",
                subject_type="rollout",
                subject_id=rollout.uuid,
                actor=SYSTEM,
                payload={},
                occurred_at=at,
            )
            return "rollout.completed"
        return None
    if current.state in (
        WaveState.DEPLOYING,
        WaveState.DEPLOYED,
        WaveState.VERIFYING,
        WaveState.SOAKING,
    ):
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
        if current.window_end and current.window_end <= at:
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


# --------------------------------------------------------------------------- halts and results


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
    from integrations.choices import JobStatus, TicketCategory, TicketPriority
    from integrations.models import AgentJob
    from integrations.services import open_ticket

    updated = Rollout.objects.filter(pk=rollout.pk, state=RolloutState.ACTIVE).update(
        state=RolloutState.HALTED, halted_at=at, halt_reason=reason
    )
    if not updated:
        return False
    if wave is not None:
        Wave.objects.filter(pk=wave.pk).exclude(state=WaveState.PASSED).update(
            state=WaveState.HALTED, halted_at=at, halt_reason=reason
        )
        _event("wave.halted", wave, at, actor=actor, reason=reason)
    cancelled = AgentJob.objects.filter(wave__rollout=rollout, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED
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
        wave = rollout.waves.exclude(state=WaveState.PASSED).order_by("order").first()
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
        # The findings this attempt acts on: the rollout's open findings on the asset.
        acted_on = sorted(
            str(u)
            for u in wave.rollout.findings.filter(
                asset=result.asset, state__in=ROLLABLE_STATES
            ).values_list("uuid", flat=True)
        )
        _mark_findings(
            wave, [result.asset], FindingState.DEPLOYED if succeeded else FindingState.FAILED, at
        )
        record_event(
            kind="deployment.succeeded" if succeeded else "deployment.failed",
            subject_type="asset",
            subject_id=result.asset.uuid,
            actor=actor,
            payload={
                "wave": str(wave.uuid),
                "ring": wave.ring.key,
                "message": message[:500],
                "rollout": str(wave.rollout.uuid),
                "findings": acted_on,
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
    """Record a rollback (who, when, what, outcome); rolled-back assets leave the counts."""
    at = at or timezone.now()
    if not what.strip():
        raise ValidationError({"what": "Describe what was rolled back."})
    if outcome not in RollbackOutcome.values:
        raise ValidationError({"outcome": f"Choose one of {', '.join(RollbackOutcome.values)}."})
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
        )
        event.assets.set(assets)
        rolled_back = sorted(
            str(u)
            for u in rollout.findings.filter(asset__in=[a.pk for a in assets])
            .exclude(state=FindingState.VERIFIED)
            .values_list("uuid", flat=True)
        )
        if outcome != RollbackOutcome.FAILED and assets:
            results = DeploymentResult.objects.filter(
                wave__rollout=rollout, asset__in=[a.pk for a in assets]
            )
            if wave is not None:
                results = results.filter(wave=wave)
            results.exclude(status=DeploymentStatus.PENDING).update(
                status=DeploymentStatus.ROLLED_BACK, rolled_back_at=at
            )
            rollout.findings.filter(asset__in=[a.pk for a in assets]).exclude(
                state=FindingState.VERIFIED
            ).update(state=FindingState.OPEN, deployed_at=None, updated_at=at)
        record_event(
            kind="rollback.recorded",
            subject_type="rollout",
            subject_id=rollout.uuid,
            actor=actor,
            payload={
                "what": event.what,
                "outcome": outcome,
                "wave": str(wave.uuid) if wave else None,
                "assets": [a.hostname for a in assets],
                "findings": rolled_back,
            },
            occurred_at=at,
        )
    return event


def record_runbook_check(
    *,
    wave: Wave,
    check: RunbookCheck,
    passed: bool,
    actor: Any,
    note: str = "",
    at: datetime | None = None,
) -> RunbookCheckResult:
    """Record one spot-check for a wave; a failed check flagged ``halts_on_failure`` halts."""
    from integrations.choices import TicketCategory

    at = at or timezone.now()
    if wave.state in (WaveState.PENDING, WaveState.AWAITING, WaveState.PRECHECKS):
        raise ValidationError({"wave": "Runbook checks are recorded after patching starts."})
    try:
        with transaction.atomic():
            result = RunbookCheckResult.objects.create(
                wave=wave,
                runbook_check=check,
                passed=passed,
                recorded_by=actor_label(actor),
                recorded_at=at,
                note=note,
            )
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
        named = Finding.objects.filter(
            rollouts=wave.rollout, asset_id__in=[r.asset_id for r in results]
        ).values_list("uuid", flat=True)
        _event(
            "deployment.verified",
            wave,
            at,
            assets=len(results),
            findings=sorted(str(u) for u in named),
        )
    return updated
