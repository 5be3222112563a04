"""Ring membership: the automatic placement, the scheduled re-balance and manual pins.

Every managed asset sits in exactly one ring. A device gets its ring in the same transaction
that first records it (``place_new_assets``, called by the inventory through
``inventory.hooks``), by the same canary and pilot rules the full assignment uses; the full
assignment (``assign_rings``) re-balances the fleet on a schedule or when a person asks. Pinned
members never move, and assets an unfinished rollout carries stay where they are until it ends.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from evidence.services import actor_label, record_event
from findings.models import Finding
from inventory.models import Asset

from ..choices import MembershipSource, PlacementTrigger, RingAssignment, RolloutState
from ..models import PlacementRun, Ring, RingMembership

__all__ = [
    "SYSTEM",
    "assign_rings",
    "place_new_assets",
    "pin_asset",
    "unpin_asset",
    "delete_ring",
    "held_asset_ids",
]

SYSTEM = "system:rings"
UNFINISHED_ROLLOUT_STATES = (RolloutState.ACTIVE, RolloutState.HALTED)


def _spread_key(asset: Asset) -> str:
    # Deterministic but not alphabetical, so samples do not cluster on hostname prefixes.
    # Reported identity, not the random row id: the same fleet gets the same rings on every install.
    return hashlib.sha256(f"{asset.hostname}|{asset.hardware_serial}".encode()).hexdigest()


def _pick_canary(
    candidates: list[Asset], fleet: list[Asset], size: int, fixed: Iterable[Asset] = ()
) -> list[Asset]:
    """Canary members among ``candidates``: cover every OS family and role of ``fleet`` (members
    already fixed in the canary count as covering), then fill up to ``size`` with non-critical
    assets. Never a do-not-disrupt asset; a critical one only when its OS family or role has
    nothing else."""
    safe = [a for a in candidates if not a.asset_class.is_do_not_disrupt]
    non_critical = [a for a in safe if not a.asset_class.is_critical]
    fixed = list(fixed)
    chosen: list[Asset] = []

    def cover(attr: str) -> None:
        for value in sorted({getattr(a, attr) for a in fleet}):
            if any(getattr(a, attr) == value for a in [*fixed, *chosen]):
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


def _assignment_rings(all_rings: list[Ring] | None = None) -> dict[str, Ring]:
    """The ring each assignment rule fills (the first by order when several share a rule)."""
    ordered = all_rings if all_rings is not None else list(Ring.objects.order_by("order"))
    return {r.assignment: r for r in reversed(ordered)}


def _catch_all(all_rings: list[Ring]) -> Ring | None:
    """Production takes the rest of the fleet; without one, the last ring does."""
    rings = _assignment_rings(all_rings)
    return rings.get(RingAssignment.PRODUCTION) or (all_rings[-1] if all_rings else None)


def held_asset_ids() -> set[int]:
    """Assets an unfinished (active or halted) rollout carries: the re-balance leaves them in
    their ring until it ends, so no rollout skips a device or patches it twice."""
    return set(
        Finding.objects.filter(rollouts__state__in=UNFINISHED_ROLLOUT_STATES).values_list(
            "asset_id", flat=True
        )
    )


def _record_run(
    *,
    trigger: str,
    at: datetime,
    actor: Any,
    assets: int,
    placed: int,
    moved: int = 0,
    held: int = 0,
    pinned: int = 0,
    counts: dict[str, int] | None = None,
) -> PlacementRun:
    if counts is None:
        counts = {
            row["ring__key"]: row["n"]
            for row in RingMembership.objects.values("ring__key").annotate(n=Count("id"))
        }
    return PlacementRun.objects.create(
        trigger=trigger,
        ran_at=at,
        actor=actor_label(actor)[:200],
        assets=assets,
        placed=placed,
        moved=moved,
        held=held,
        pinned=pinned,
        rings=counts,
    )


def assign_rings(
    *, actor: Any = SYSTEM, at: datetime | None = None, trigger: str = PlacementTrigger.REQUEST
) -> dict[str, Any]:
    """Place every managed asset that is not pinned into canary, pilot or production.

    Deterministic: the same fleet gives the same rings. Pinned members never move, and neither
    do members an unfinished rollout carries (``held``; they count where they are). Canary: a
    small sample of non-critical assets that covers every OS family and role present (at least
    one per OS family even in small fleets); never a do-not-disrupt asset. Pilot: the ring's
    ``fleet_percent`` (10–20 %) of the fleet, spread across OS families and roles. Production:
    the rest.
    """
    at = at or timezone.now()
    if trigger not in PlacementTrigger.values:
        raise ValidationError({"trigger": f"Unknown trigger “{trigger}”."})
    rings = _assignment_rings()
    canary = rings.get(RingAssignment.CANARY)
    pilot = rings.get(RingAssignment.PILOT)
    production = rings.get(RingAssignment.PRODUCTION)
    if production is None:
        raise ValidationError("Define a production ring before assigning members automatically.")
    with transaction.atomic():
        fleet = sorted(
            Asset.objects.filter(is_managed=True).select_related("asset_class"), key=_spread_key
        )
        memberships = {m.asset_id: m for m in RingMembership.objects.all()}
        pinned = {
            asset_id: m.ring_id
            for asset_id, m in memberships.items()
            if m.source == MembershipSource.PINNED
        }
        held = {
            asset_id: memberships[asset_id].ring_id
            for asset_id in held_asset_ids()
            if asset_id in memberships and asset_id not in pinned
        }
        fixed = {**pinned, **held}
        free = [a for a in fleet if a.pk not in fixed]
        target: dict[int, Ring] = {}
        if canary is not None:
            in_canary = [a for a in fleet if fixed.get(a.pk) == canary.pk]
            size = canary.canary_size - len(in_canary)
            for asset in _pick_canary(free, fleet, max(size, 0), fixed=in_canary):
                target[asset.pk] = canary
        if pilot is not None:
            wanted = math.ceil(len(fleet) * pilot.fleet_percent / 100)
            wanted -= sum(1 for r in fixed.values() if r == pilot.pk)
            rest = [a for a in free if a.pk not in target]
            for asset in _pick_spread(rest, wanted):
                target[asset.pk] = pilot
        for asset in free:
            target.setdefault(asset.pk, production)
        label = actor_label(actor)
        moved = created = 0
        new_rows = []
        for asset_id, ring in target.items():
            membership = memberships.get(asset_id)
            if membership is None:
                new_rows.append(
                    RingMembership(
                        ring=ring,
                        asset_id=asset_id,
                        assigned_at=at,
                        assigned_by=label,
                        placed_by=trigger,
                    )
                )
                created += 1
            elif membership.ring_id != ring.pk:
                RingMembership.objects.filter(pk=membership.pk).update(
                    ring=ring, assigned_at=at, assigned_by=label, placed_by=trigger
                )
                moved += 1
        # A device recorded by a concurrent ingest may have been placed meanwhile: keep that.
        RingMembership.objects.bulk_create(new_rows, ignore_conflicts=True)
        per_ring = {
            r.key: sum(1 for ring in target.values() if ring.pk == r.pk)
            + sum(1 for rid in fixed.values() if rid == r.pk)
            for r in rings.values()
        }
        summary: dict[str, Any] = {
            "trigger": trigger,
            "assets": len(fleet),
            "pinned": len(pinned),
            "held": len(held),
            "created": created,
            "moved": moved,
            **per_ring,
        }
        _record_run(
            trigger=trigger,
            at=at,
            actor=actor,
            assets=len(fleet),
            placed=created,
            moved=moved,
            held=len(held),
            pinned=len(pinned),
        )
        record_event(
            kind="ring.membership_assigned",
            subject_type="ring",
            subject_id="all",
            actor=actor,
            payload=summary,
            occurred_at=at,
        )
    return summary


@dataclass
class _RingState:
    """What the incremental placement needs to know about the rings as it places."""

    total: int
    counts: dict[int, int] = field(default_factory=dict)
    canary_families: set[str] = field(default_factory=set)
    canary_roles: set[str] = field(default_factory=set)


def _covers_gap(
    asset: Asset, state: _RingState, canary: Ring | None, non_critical: set[tuple[str, str]]
) -> bool:
    """The asset brings the canary an OS family or role it lacks (never a do-not-disrupt one;
    a critical one only when no non-critical asset of the fleet could)."""
    klass = asset.asset_class
    if canary is None or klass.is_do_not_disrupt:
        return False
    gaps = [
        gap
        for gap, seen in (
            (("os_family", asset.os_family), state.canary_families),
            (("role", asset.role), state.canary_roles),
        )
        if gap[1] not in seen
    ]
    return bool(gaps) and (not klass.is_critical or any(g not in non_critical for g in gaps))


def _choose_rest(asset: Asset, state: _RingState, rings: dict[str, Ring], catch_all: Ring) -> Ring:
    """Canary while it is below its size (non-critical, never do-not-disrupt), then pilot while
    it is below its share of the fleet, then production."""
    canary = rings.get(RingAssignment.CANARY)
    pilot = rings.get(RingAssignment.PILOT)
    klass = asset.asset_class
    if (
        canary is not None
        and not (klass.is_critical or klass.is_do_not_disrupt)
        and state.counts.get(canary.pk, 0) < canary.canary_size
    ):
        return canary
    if pilot is not None:
        wanted = math.ceil(state.total * pilot.fleet_percent / 100)
        if state.counts.get(pilot.pk, 0) < wanted:
            return pilot
    return catch_all


def place_new_assets(
    *,
    asset_ids: Iterable[int],
    at: datetime | None = None,
    actor: Any = SYSTEM,
    trigger: str = PlacementTrigger.FIRST_SEEN,
) -> dict[str, Any]:
    """Give every managed asset among ``asset_ids`` that has no ring yet its ring, without
    moving anyone else.

    The rules are the full assignment's, applied to the new devices in a deterministic order:
    first the canary takes those that bring it an OS family or role it lacks (never a
    do-not-disrupt device; a critical one only when no other could), then the canary fills up
    to its size with non-critical devices, the pilot to its share of the fleet, production
    takes the rest. Runs in the caller's
    transaction (the inventory calls it while it records the devices).
    """
    at = at or timezone.now()
    ids = sorted(set(asset_ids))
    if not ids:
        return {"placed": 0}
    with transaction.atomic():
        new = sorted(
            Asset.objects.filter(pk__in=ids, is_managed=True, ring_membership__isnull=True)
            .select_related("asset_class")
            .select_for_update(of=("self",)),
            key=_spread_key,
        )
        if not new:
            return {"placed": 0}
        all_rings = list(Ring.objects.order_by("order"))
        rings = _assignment_rings(all_rings)
        catch_all = _catch_all(all_rings)
        if catch_all is None:
            return {"placed": 0, "unplaced": len(new)}
        # Two grouped reads describe the fleet and the rings, whatever their size.
        state = _RingState(total=0)
        non_critical_values: set[tuple[str, str]] = set()
        for row in (
            Asset.objects.filter(is_managed=True)
            .values(
                "os_family", "role", "asset_class__is_critical", "asset_class__is_do_not_disrupt"
            )
            .annotate(n=Count("id"))
            .order_by()
        ):
            state.total += row["n"]
            if not (row["asset_class__is_critical"] or row["asset_class__is_do_not_disrupt"]):
                non_critical_values.add(("os_family", row["os_family"]))
                non_critical_values.add(("role", row["role"]))
        canary = rings.get(RingAssignment.CANARY)
        for row in (
            RingMembership.objects.values("ring_id", "asset__os_family", "asset__role")
            .annotate(n=Count("id"))
            .order_by()
        ):
            state.counts[row["ring_id"]] = state.counts.get(row["ring_id"], 0) + row["n"]
            if canary is not None and row["ring_id"] == canary.pk:
                state.canary_families.add(row["asset__os_family"])
                state.canary_roles.add(row["asset__role"])
        label = actor_label(actor)
        chosen: dict[int, Ring] = {}

        def place(asset: Asset, ring: Ring) -> None:
            chosen[asset.pk] = ring
            state.counts[ring.pk] = state.counts.get(ring.pk, 0) + 1
            if canary is not None and ring.pk == canary.pk:
                state.canary_families.add(asset.os_family)
                state.canary_roles.add(asset.role)

        # As in the full assignment: the canary's coverage first, then its size, the pilot's
        # share and production, each pass in the same deterministic order.
        for asset in new:
            if _covers_gap(asset, state, canary, non_critical_values):
                place(asset, canary)
        for asset in new:
            if asset.pk not in chosen:
                place(asset, _choose_rest(asset, state, rings, catch_all))
        rows = [
            RingMembership(
                ring=chosen[a.pk], asset=a, assigned_at=at, assigned_by=label, placed_by=trigger
            )
            for a in new
        ]
        RingMembership.objects.bulk_create(rows, ignore_conflicts=True)
        keys = {r.pk: r.key for r in all_rings}
        _record_run(
            trigger=trigger,
            at=at,
            actor=actor,
            assets=state.total,
            placed=len(rows),
            counts={keys.get(pk, str(pk)): n for pk, n in state.counts.items()},
        )
        record_event(
            kind="ring.members_placed",
            subject_type="ring",
            subject_id="all",
            actor=actor,
            payload={
                "trigger": trigger,
                "placed": len(rows),
                "assets": [str(m.asset.uuid) for m in rows],
                "hostnames": [m.asset.hostname for m in rows],
                "rings": [m.ring.key for m in rows],
            },
            occurred_at=at,
        )
    return {"placed": len(rows), "rings": {r.key: n for r, n in _tally(rows).items()}}


def _tally(rows: list[RingMembership]) -> dict[Ring, int]:
    out: dict[Ring, int] = {}
    for row in rows:
        out[row.ring] = out.get(row.ring, 0) + 1
    return out


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
                "placed_by": PlacementTrigger.PIN,
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


def delete_ring(*, ring: Ring, actor: Any, at: datetime | None = None) -> int:
    """Delete a ring; its members are placed again at once (no asset is left outside every
    ring). The last ring that takes the rest of the fleet cannot be deleted; a ring rollouts
    went through is kept by their waves (``ProtectedError``, answered 409)."""
    at = at or timezone.now()
    others = Ring.objects.exclude(pk=ring.pk)
    if (
        ring.assignment == RingAssignment.PRODUCTION
        and not others.filter(assignment=RingAssignment.PRODUCTION).exists()
    ):
        raise ValidationError(
            {"ring": "The production ring takes the rest of the fleet; it cannot be deleted."}
        )
    with transaction.atomic():
        members = list(ring.memberships.values_list("asset_id", flat=True))
        record_event(
            kind="ring.deleted",
            subject_type="ring",
            subject_id=ring.uuid,
            actor=actor,
            payload={"key": ring.key, "members": len(members)},
            occurred_at=at,
        )
        ring.delete()
        place_new_assets(
            asset_ids=members, at=at, actor=actor, trigger=PlacementTrigger.RING_REMOVED
        )
    return len(members)
