"""The primitives of the wave state machine: conditional transitions (``filter(pk=…,
state=old).update(…)`` with a row-count check, so two workers never promote twice), their
evidence events and notes, and which assets and findings a wave still concerns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from evidence.services import record_event
from findings.choices import FindingState, SeverityTier
from findings.models import Finding
from inventory.models import Asset
from rings.choices import WaveState
from rings.models import DeploymentResult, Rollout, Wave
from rings.services.membership import SYSTEM
from rings.services.rollouts import EXPEDITED_WINDOW, ROLLABLE_STATES, _finding_uuids

# Waves still in the rings' patching states: a breach there halts the rollout.
IN_FLIGHT_STATES = (WaveState.DEPLOYING, WaveState.DEPLOYED, WaveState.VERIFYING, WaveState.SOAKING)


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


_TIER_ORDER = [SeverityTier.CRITICAL, SeverityTier.HIGH, SeverityTier.MEDIUM, SeverityTier.LOW]


def _worst_tier(findings: list[Finding]) -> str | None:
    tiers = {f.tier for f in findings}
    return next((t for t in _TIER_ORDER if t in tiers), None)


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


def _counts_payload(wave: Wave) -> dict[str, Any]:
    counts = wave.counts()
    rate = wave.failure_rate()
    return {"counts": counts, "failure_rate": str(rate) if rate is not None else None}
