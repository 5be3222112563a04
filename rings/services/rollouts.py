"""Rollouts: creation (and its preview), approvals, the wave state machine, promotion, halts,
deployment results and runbook checks.

Every state change is a conditional update (``filter(pk=…, state=old).update(…)`` with a row-count
check), so two workers or two beat ticks evaluating the same rollout never promote twice or skip a
ring, and every change records an evidence event in the same transaction. Deployment events name
the findings they act on (``findings``: finding UUIDs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef
from django.utils import timezone

from evidence.services import actor_label, record_event
from findings.choices import FindingState, RebootPolicy, SeverityTier
from findings.models import Finding, SlaRule
from integrations.choices import JobAction, JobStatus, TicketCategory, TicketPriority
from integrations.connectors import get_connector
from integrations.models import AgentJob
from integrations.services import open_ticket
from inventory.models import Asset, AssetClass
from tenants.models import User
from tenants.permissions import role_in

from ..choices import (
    WAVE_DONE_STATES,
    ApproverRole,
    DeploymentStatus,
    RestartMode,
    RolloutSelection,
    RolloutState,
    WaveState,
)
from ..models import (
    Approval,
    DeploymentResult,
    MaintenanceWindow,
    Ring,
    Rollout,
    RunbookCheck,
    RunbookCheckResult,
    Wave,
)
from .membership import SYSTEM

__all__ = [
    "ApprovalRefused",
    "DEFAULT_REBOOT_POLICY",
    "ROLLABLE_STATES",
    "EXPEDITED_WINDOW",
    "reboot_policy_for",
    "restart_mode_for",
    "applicable_windows",
    "asset_window",
    "select_findings",
    "RingPreview",
    "preview_rollout",
    "expedite_check",
    "create_rollout",
    "required_approver",
    "may_approve",
    "approve_wave",
    "needing_assets",
    "evaluate_rollout",
    "evaluate_active_rollouts",
    "promote_wave",
    "halt_rollout",
    "record_deployment_outcome",
    "confirm_snapshot",
    "record_runbook_check",
    "verify_results_for_assets",
]


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

# An expedited wave does not wait for a maintenance window: once approved and promoted its jobs
# may run during this long (and an offline device gets another such window when it misses it).
EXPEDITED_WINDOW = timedelta(hours=4)

# Waves still in the rings' patching states: a breach there halts the rollout.
IN_FLIGHT_STATES = (WaveState.DEPLOYING, WaveState.DEPLOYED, WaveState.VERIFYING, WaveState.SOAKING)


def _finding_uuids(findings: Iterable[Finding]) -> list[str]:
    """Finding UUIDs as strings, sorted: the ``findings`` field of deployment events."""
    return sorted(str(f.uuid) for f in findings)


# --------------------------------------------------------------------------- reboot policy


def reboot_policy_for(asset: Asset, tier: str | None = None) -> str:
    """The reboot policy of the client's SLA policy for the asset's class (and tier).

    Reads ``patchops.SlaRule.reboot_policy``; without a rule falls back to
    core server → scheduled, workstation → user prompted, do-not-disrupt → manual approval (and
    manual approval for any other class, the safe choice).
    """
    rules = SlaRule.objects.filter(asset_class_id=asset.asset_class_id)
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


def _tz() -> ZoneInfo:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "tz", None) or ZoneInfo("UTC")


# --------------------------------------------------------------------------- rollouts


def select_findings(
    *,
    selection: str,
    finding_ids: Sequence[Any] = (),
    patch_identifiers: Sequence[str] = (),
    os_family: str = "",
) -> list[Finding]:
    """The open findings a rollout of this selection would carry (raises on a bad selection)."""
    open_findings = Finding.objects.filter(state__in=ROLLABLE_STATES)
    if selection == RolloutSelection.FINDINGS:
        if not finding_ids:
            raise ValidationError({"findings": "Choose at least one finding."})
        findings = open_findings.filter(uuid__in=list(finding_ids))
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
    findings = list(findings.select_related("asset").order_by("due_at", "pk"))
    if not findings:
        raise ValidationError({"findings": "No open finding matches this selection."})
    return findings


@dataclass(frozen=True)
class RingPreview:
    """What one ring's wave would do: its members and how many of them need the patches."""

    ring: Ring
    members: int
    devices: int
    findings: int
    soak_hours: int

    @property
    def will_skip(self) -> bool:
        return self.devices == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ring": self.ring.key,
            "name": self.ring.name,
            "members": self.members,
            "devices": self.devices,
            "findings": self.findings,
            "soak_hours": self.soak_hours,
            "will_skip": self.will_skip,
        }


def preview_rollout(
    *, findings: Sequence[Finding], soak_hours: int | None = None
) -> list[RingPreview]:
    """Per ring, in order: members, devices that would be patched (members carrying at least one
    of the findings) and findings. A ring with no such device would be skipped."""
    by_asset: dict[int, int] = defaultdict(int)
    for finding in findings:
        by_asset[finding.asset_id] += 1
    ring_of = dict(
        Asset.objects.filter(pk__in=list(by_asset), ring_membership__isnull=False).values_list(
            "pk", "ring_membership__ring_id"
        )
    )
    members: dict[int, int] = defaultdict(int)
    for ring_id in Asset.objects.filter(is_managed=True, ring_membership__isnull=False).values_list(
        "ring_membership__ring_id", flat=True
    ):
        members[ring_id] += 1
    out = []
    for ring in Ring.objects.order_by("order"):
        assets = [a for a, r in ring_of.items() if r == ring.pk]
        out.append(
            RingPreview(
                ring=ring,
                members=members.get(ring.pk, 0),
                devices=len(assets),
                findings=sum(by_asset[a] for a in assets),
                soak_hours=min(ring.soak_hours, soak_hours)
                if soak_hours is not None
                else ring.soak_hours,
            )
        )
    return out


@dataclass(frozen=True)
class ExpediteCheck:
    """Whether findings qualify for the emergency lane, and the soak that fits their due time."""

    eligible: bool
    reason: str
    earliest_due: datetime | None
    combined_soak_hours: int
    suggested_soak_hours: int | None


def expedite_check(*, findings: Sequence[Finding], at: datetime | None = None) -> ExpediteCheck:
    """The emergency lane is for critical and KEV findings whose due time comes before the
    rings' combined soak would end. The suggested soak gives each ring an equal share of half
    the time left (at least one hour, never more than the ring's own soak)."""
    at = at or timezone.now()
    rings = list(Ring.objects.order_by("order"))
    combined = sum(r.soak_hours for r in rings)
    earliest = min((f.due_at for f in findings), default=None)
    routine = [f for f in findings if f.tier != SeverityTier.CRITICAL and not f.is_kev]
    if not findings or not rings:
        return ExpediteCheck(False, "Nothing to expedite.", earliest, combined, None)
    if routine:
        return ExpediteCheck(
            False,
            f"{len(routine)} of the {len(findings)} findings are neither critical nor KEV: "
            "the emergency lane is for critical and KEV findings only.",
            earliest,
            combined,
            None,
        )
    left = earliest - at
    if left >= timedelta(hours=combined):
        return ExpediteCheck(
            False,
            f"The rings' combined soak ({combined} h) ends before the earliest due time: "
            "a normal rollout meets it.",
            earliest,
            combined,
            None,
        )
    share = int(left.total_seconds() // 3600) // (2 * len(rings))
    suggested = max(1, min(share, min(r.soak_hours for r in rings)))
    hours_left = max(int(left.total_seconds() // 3600), 0)
    return ExpediteCheck(
        True,
        f"The earliest finding is due in {hours_left} h; the rings' combined soak is {combined} h.",
        earliest,
        combined,
        suggested,
    )


def create_rollout(
    *,
    name: str,
    actor: Any,
    selection: str,
    finding_ids: Sequence[Any] = (),
    patch_identifiers: Sequence[str] = (),
    os_family: str = "",
    at: datetime | None = None,
    expedite: bool = False,
    expedite_reason: str = "",
    soak_hours: int | None = None,
) -> Rollout:
    """A rollout of chosen findings, chosen patch identifiers, or every open critical finding of
    one OS family, with one pending wave per ring.

    ``expedite`` starts it in the emergency lane (``expedite_check``): a person gives the reason,
    every wave gets the shortened soak (``soak_hours``, or the suggested one) and needs an
    explicit approval even in a ring that would promote on its own, and promoted waves deploy at
    once instead of waiting for a maintenance window.
    """
    at = at or timezone.now()
    if not name.strip():
        raise ValidationError({"name": "A rollout needs a name."})
    findings = select_findings(
        selection=selection,
        finding_ids=finding_ids,
        patch_identifiers=patch_identifiers,
        os_family=os_family,
    )
    rings = list(Ring.objects.order_by("order"))
    if not rings:
        raise ValidationError("This client has no rings.")
    expedite_soak = None
    check = None
    if expedite:
        if not isinstance(actor, User):
            raise ApprovalRefused("An expedited rollout is started by a person, not an API token.")
        if not expedite_reason.strip():
            raise ValidationError({"expedite_reason": "Say why this rollout is expedited."})
        check = expedite_check(findings=findings, at=at)
        if not check.eligible:
            raise ValidationError({"expedite": check.reason})
        expedite_soak = soak_hours if soak_hours is not None else check.suggested_soak_hours
        if expedite_soak < 1:
            raise ValidationError({"soak_hours": "An expedited soak lasts at least 1 hour."})
        longest = max(r.soak_hours for r in rings)
        if expedite_soak >= longest:
            raise ValidationError(
                {"soak_hours": f"An expedited soak is shorter than the rings' ({longest} h)."}
            )
        total = sum(min(r.soak_hours, expedite_soak) for r in rings)
        if check.earliest_due > at and at + timedelta(hours=total) >= check.earliest_due:
            raise ValidationError(
                {
                    "soak_hours": f"{len(rings)} soaks of {expedite_soak} h end after the "
                    "earliest due time; choose a shorter soak."
                }
            )
    elif soak_hours is not None:
        raise ValidationError({"soak_hours": "Only an expedited rollout shortens the soak."})
    with transaction.atomic():
        rollout = Rollout.objects.create(
            name=name.strip(),
            selection=selection,
            os_family=os_family,
            patch_identifiers=sorted({f.patch_identifier for f in findings}),
            created_by=actor_label(actor),
            created_at=at,
            is_expedited=bool(expedite),
            expedite_reason=expedite_reason.strip() if expedite else "",
            expedite_due_at=check.earliest_due if check else None,
            expedite_soak_hours=expedite_soak,
        )
        rollout.findings.set(findings)
        Wave.objects.bulk_create(
            Wave(
                rollout=rollout,
                ring=ring,
                order=index,
                soak_hours=min(ring.soak_hours, expedite_soak) if expedite else None,
            )
            for index, ring in enumerate(rings)
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
                "findings": _finding_uuids(findings),
                "rings": [r.key for r in rings],
                "expedited": rollout.is_expedited,
                "expedite_reason": rollout.expedite_reason,
                "soak_hours": expedite_soak,
                "due_at": check.earliest_due.isoformat() if check else None,
            },
            occurred_at=at,
        )
    return rollout


def required_approver(wave: Wave) -> str | None:
    """The role whose approval promotion into the wave needs; None when the ring promotes on its
    own. An expedited rollout always needs a person: a ring without an approver then takes an
    engineer's (or an MSP admin's) approval."""
    role = wave.ring.approver_role
    if role == ApproverRole.NONE:
        return ApproverRole.ENGINEER if wave.rollout.is_expedited else None
    return role


def _role_may_approve(role: str | None, approver_role: str | None) -> bool:
    # An MSP admin may also approve what an engineer may; a client owner's approval is theirs alone.
    if approver_role is None:
        return False
    if role == approver_role:
        return True
    return approver_role == ApproverRole.ENGINEER and role == ApproverRole.MSP_ADMIN


def may_approve(role: str | None, wave: Wave) -> bool:
    """Whether a person holding ``role`` may approve promotion into this wave."""
    return _role_may_approve(role, required_approver(wave))


def approve_wave(*, wave: Wave, user: Any, at: datetime | None = None, note: str = "") -> Approval:
    """Approve promotion into the wave's ring. Only a user holding the ring's approver role may."""
    at = at or timezone.now()
    ring = wave.ring
    if not isinstance(user, User):
        raise ApprovalRefused("Approvals are given by people, not by API tokens.")
    needed = required_approver(wave)
    if needed is None:
        raise ValidationError({"wave": f"{ring.name} promotes on its own: it needs no approval."})
    role = role_in(user, getattr(connection, "tenant", None))
    if not _role_may_approve(role, needed):
        label = ApproverRole(needed).label.lower()
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
                payload={
                    "ring": ring.key,
                    "role": role,
                    "rollout": str(wave.rollout.uuid),
                    "expedited": wave.rollout.is_expedited,
                },
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


def needing_assets(wave: Wave) -> dict[int, list[Finding]]:
    """Members of the wave's ring that need the rollout's patches: the rollout carries an open,
    scheduled or failed finding on them and no other wave of the rollout holds them."""
    elsewhere = DeploymentResult.objects.filter(
        wave__rollout_id=wave.rollout_id, asset=OuterRef("asset")
    ).exclude(wave_id=wave.pk)
    by_asset: dict[int, list[Finding]] = defaultdict(list)
    for finding in (
        wave.rollout.findings.filter(
            state__in=ROLLABLE_STATES, asset__ring_membership__ring_id=wave.ring_id
        )
        .filter(~Exists(elsewhere))
        .order_by("patch_identifier")
    ):
        by_asset[finding.asset_id].append(finding)
    return by_asset


def _wave_findings(wave: Wave, asset_ids: Iterable[int] | None = None) -> list[str]:
    """UUIDs of the rollout's findings on the wave's assets (or on the given ones)."""
    assets = list(asset_ids) if asset_ids is not None else wave.results.values("asset_id")
    return _finding_uuids(wave.rollout.findings.filter(asset__in=assets).only("uuid"))


def _emergency_slot(at: datetime) -> tuple[datetime, datetime]:
    return at, at + EXPEDITED_WINDOW


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


_TIER_ORDER = [SeverityTier.CRITICAL, SeverityTier.HIGH, SeverityTier.MEDIUM, SeverityTier.LOW]


def _worst_tier(findings: list[Finding]) -> str | None:
    tiers = {f.tier for f in findings}
    return next((t for t in _TIER_ORDER if t in tiers), None)


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
        needed = required_approver(wave)
        approval = Approval.objects.filter(wave=wave).select_related("approved_by").first()
        if needed is not None and approval is None:
            return False
        results = list(wave.results.select_related("asset"))
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


def _counts_payload(wave: Wave) -> dict[str, Any]:
    counts = wave.counts()
    rate = wave.failure_rate()
    return {"counts": counts, "failure_rate": str(rate) if rate is not None else None}


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
