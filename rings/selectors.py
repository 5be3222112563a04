"""Read side of the rings app: visible querysets, membership exports and failure-rate metrics."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery

from common.csvexport import csv_writer
from evidence.models import EvidenceEvent
from findings.choices import SeverityTier
from findings.models import Finding
from findings.queue import patch_groups
from findings.risk import TIER_RANK
from inventory.models import Asset
from policytemplates.models import PolicyTemplate

from . import windows
from .choices import (
    DeploymentStatus,
    MembershipSource,
    PlacementTrigger,
    RollbackOutcome,
    RolloutState,
    WaveState,
)
from .models import (
    DeploymentResult,
    MaintenanceWindow,
    PatchPolicy,
    PlacementRun,
    PolicyRun,
    RestoreOutcome,
    RestoreTest,
    Ring,
    RingMembership,
    RollbackEvent,
    RollbackTarget,
    Rollout,
    RunbookCheck,
    Wave,
)

__all__ = [
    "restore_test_rows",
    "visible_patch_policies",
    "visible_policy_runs",
    "visible_policy_templates",
    "visible_rings",
    "ring_members",
    "visible_placements",
    "last_placement",
    "placement_summary",
    "unplaced_assets",
    "rollbacks_of",
    "rollout_rows",
    "rollout_state_at",
    "wave_state_at",
    "rollout_history",
    "visible_rollouts",
    "visible_windows",
    "window_calendar",
    "window_openings",
    "CalendarDay",
    "patch_choices",
    "rollout_job_status",
    "visible_runbook_checks",
    "visible_restore_tests",
    "membership_csv",
    "deployment_counts",
    "DEPLOYMENT_COUNTS",
    "attempted_results",
    "failure_rate",
    "failure_rates_by_ring",
    "ATTEMPTED",
    "FAILED_INSTALL",
]

OVER = (RolloutState.COMPLETED, RolloutState.NOTHING_DEPLOYED)
ATTEMPTED = (
    DeploymentStatus.DEPLOYED,
    DeploymentStatus.FAILED,
    DeploymentStatus.VERIFIED,
    DeploymentStatus.ROLLED_BACK,
)
# A failed install: the agent reported the install failed. Rolling it back afterwards (a failed
# install may leave part of an update behind) does not undo the failure, so a rolled-back result
# that failed first still counts as failed in every count and rate.
FAILED_INSTALL = Q(status=DeploymentStatus.FAILED) | Q(
    status=DeploymentStatus.ROLLED_BACK, failed_at__isnull=False
)


# Within a client schema every role that may see the client sees its rings and rollouts; the
# permission layer has already answered 404/403 for principals that may not.
def visible_rings(principal: Any = None) -> QuerySet[Ring]:
    automatic = Q(memberships__source=MembershipSource.AUTOMATIC)
    return Ring.objects.annotate(
        member_count=Count("memberships"),
        automatic_count=Count("memberships", filter=automatic),
        pinned_count=Count("memberships", filter=Q(memberships__source=MembershipSource.PINNED)),
        first_seen_count=Count(
            "memberships",
            filter=automatic & Q(memberships__placed_by=PlacementTrigger.FIRST_SEEN),
        ),
        last_placed_at=Max("memberships__assigned_at", filter=automatic),
    ).order_by("order")


def ring_members(ring: Ring) -> QuerySet[Asset]:
    return (
        Asset.objects.filter(ring_membership__ring=ring)
        .select_related("asset_class", "site", "ring_membership")
        .order_by("hostname")
    )


def visible_placements(principal: Any = None) -> QuerySet[PlacementRun]:
    return PlacementRun.objects.order_by("-ran_at", "-pk")


def last_placement(trigger: str | None = None) -> PlacementRun | None:
    runs = PlacementRun.objects.order_by("-ran_at", "-pk")
    if trigger:
        runs = runs.filter(trigger=trigger)
    return runs.first()


def unplaced_assets() -> QuerySet[Asset]:
    """Managed assets outside every ring (there should be none: the placement runs as devices
    are recorded; this is what the rings page warns about if a ring was removed by hand)."""
    return Asset.objects.filter(is_managed=True, ring_membership__isnull=True).order_by("hostname")


def placement_summary() -> dict[str, Any]:
    """How many members the automatic placement placed and when: for the rings page and API."""
    memberships = RingMembership.objects.filter(source=MembershipSource.AUTOMATIC)
    agg = memberships.aggregate(
        automatic=Count("id"),
        first_seen=Count("id", filter=Q(placed_by=PlacementTrigger.FIRST_SEEN)),
        last_at=Max("assigned_at"),
        last_first_seen_at=Max("assigned_at", filter=Q(placed_by=PlacementTrigger.FIRST_SEEN)),
    )
    return {
        "automatic": agg["automatic"],
        "pinned": RingMembership.objects.filter(source=MembershipSource.PINNED).count(),
        "placed_when_first_seen": agg["first_seen"],
        "last_automatic_at": agg["last_at"],
        "last_first_seen_at": agg["last_first_seen_at"],
        "last_rebalance": last_placement(PlacementTrigger.SCHEDULE),
        "unplaced": unplaced_assets().count(),
    }


def visible_rollouts(principal: Any = None) -> QuerySet[Rollout]:
    waves = (
        Wave.objects.select_related("ring", "approval", "approval__approved_by")
        .annotate(
            **{
                f"n_{status}": Count("results", filter=Q(results__status=status))
                for status in DeploymentStatus.values
            }
        )
        .order_by("order")
    )
    findings = Finding.objects.only("id", "uuid")
    targets = RollbackTarget.objects.select_related("asset").order_by("asset__hostname")
    rollbacks = (
        RollbackEvent.objects.select_related("wave__ring")
        .prefetch_related(Prefetch("targets", queryset=targets))
        .order_by("-occurred_at")
    )
    return Rollout.objects.prefetch_related(
        Prefetch("waves", queryset=waves),
        Prefetch("findings", queryset=findings),
        Prefetch("rollbacks", queryset=rollbacks),
    ).order_by("-created_at")


def rollbacks_of(rollout: Rollout) -> QuerySet[RollbackEvent]:
    targets = RollbackTarget.objects.select_related("asset").order_by("asset__hostname")
    return (
        rollout.rollbacks.select_related("wave__ring")
        .prefetch_related(Prefetch("targets", queryset=targets))
        .order_by("-occurred_at")
    )


# A wave's state at an instant, read off the time it entered each state (latest first wins).
_WAVE_STEPS = (
    ("awaiting_at", WaveState.AWAITING),
    ("promoted_at", WaveState.PRECHECKS),
    ("deploying_at", WaveState.DEPLOYING),
    ("deployed_at", WaveState.DEPLOYED),
    ("verifying_at", WaveState.VERIFYING),
    ("soak_started_at", WaveState.SOAKING),
    ("passed_at", WaveState.PASSED),
    ("skipped_at", WaveState.SKIPPED),
)


def wave_state_at(wave: Wave, at: datetime) -> str:
    """The state ``wave`` was in at ``at``: the last state it entered by then. A wave resumed
    after a halt went back to the state it was halted from."""
    # (instant, rank, state): of states entered at one instant the later step wins; a resume
    # ranks before the steps it led to, a halt after every step it interrupted.
    entered = [
        (getattr(wave, field), rank, state)
        for rank, (field, state) in enumerate(_WAVE_STEPS)
        if getattr(wave, field) is not None and getattr(wave, field) <= at
    ]
    if wave.halted_at is not None and wave.halted_at <= at:
        before = [entry for entry in entered if entry[0] <= wave.halted_at]
        resumed = wave.resumed_at is not None and wave.halted_at <= wave.resumed_at <= at
        if resumed:
            back = _latest(before) if before else WaveState.PENDING
            entered.append((wave.resumed_at, -1, back))
        else:
            entered = [*before, (wave.halted_at, len(_WAVE_STEPS), WaveState.HALTED)]
    return _latest(entered) if entered else WaveState.PENDING


def _latest(entered: list[tuple[datetime, int, str]]) -> str:
    return max(entered, key=lambda entry: (entry[0], entry[1]))[2]


def rollout_state_at(rollout: Rollout, at: datetime) -> str:
    """The state ``rollout`` was in at ``at``."""
    if rollout.completed_at is not None and rollout.completed_at <= at:
        return rollout.state
    halted = rollout.halted_at is not None and rollout.halted_at <= at
    resumed = (
        rollout.resumed_at is not None
        and rollout.resumed_at <= at
        and halted
        and rollout.resumed_at >= rollout.halted_at
    )
    return RolloutState.HALTED if halted and not resumed else RolloutState.ACTIVE


def rollout_rows(
    period_start: datetime, period_end: datetime, *, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The rollouts under way at some instant of [period_start, period_end) - created before
    its end and not over before its start - oldest first, as they stood at ``at`` (default: the
    period end), for reports:

    ``{"id", "name", "state", "state_label", "expedited", "expedite_reason", "patches",
    "created_at", "completed_at", "halted_at", "halt_reason", "resumed_at", "resumed_by",
    "resume_reason", "deployed", "failed", "waves": [{"ring", "ring_name", "state",
    "state_label", "skipped", "deployed", "failed", "soak_hours"}], "rollbacks": [{"occurred_at",
    "actor", "what", "outcome", "outcome_label", "targets", "is_manual"}]}``.

    Skipped waves carry ``skipped: True`` (never passed); ``expedited`` marks the emergency lane.
    Deployment counts are the results attempted before ``at``: deployed (whatever happened to
    them later: verified or rolled back) and failed (``FAILED_INSTALL``: rolled back or not).
    """
    at = period_end if at is None else at
    rollouts = list(
        Rollout.objects.filter(created_at__lt=min(period_end, at))
        .exclude(completed_at__lt=period_start)
        .prefetch_related(
            Prefetch("waves", queryset=Wave.objects.select_related("ring").order_by("order")),
            Prefetch(
                "rollbacks",
                queryset=RollbackEvent.objects.filter(occurred_at__lt=at)
                .annotate(target_count=Count("targets"))
                .order_by("occurred_at", "pk"),
            ),
        )
        .order_by("created_at", "pk")
    )
    tallies: dict[int, dict[str, int]] = {}
    results = (
        DeploymentResult.objects.filter(
            wave__rollout__in=rollouts, status__in=ATTEMPTED, attempted_at__lt=at
        )
        .values("wave_id")
        .annotate(
            failed=Count("id", filter=FAILED_INSTALL),
            deployed=Count("id", filter=~FAILED_INSTALL),
        )
        .order_by()
    )
    for row in results:
        tallies[row["wave_id"]] = {"deployed": row["deployed"], "failed": row["failed"]}
    rows = []
    for rollout in rollouts:
        waves = []
        for wave in rollout.waves.all():
            state = wave_state_at(wave, at)
            tally = tallies.get(wave.pk, {"deployed": 0, "failed": 0})
            waves.append(
                {
                    "ring": wave.ring.key,
                    "ring_name": wave.ring.name,
                    "state": state,
                    "state_label": WaveState(state).label,
                    "skipped": state == WaveState.SKIPPED,
                    "deployed": tally["deployed"],
                    "failed": tally["failed"],
                    "soak_hours": wave.effective_soak_hours,
                }
            )
        state = rollout_state_at(rollout, at)
        resumed = rollout.resumed_at is not None and rollout.resumed_at <= at
        halted = rollout.halted_at is not None and rollout.halted_at <= at
        rows.append(
            {
                "id": str(rollout.uuid),
                "name": rollout.name,
                "state": state,
                "state_label": RolloutState(state).label,
                "expedited": rollout.is_expedited,
                "expedite_reason": rollout.expedite_reason,
                "patches": list(rollout.patch_identifiers),
                "created_at": rollout.created_at,
                "completed_at": rollout.completed_at if state in OVER else None,
                "halted_at": rollout.halted_at if halted else None,
                "halt_reason": rollout.halt_reason if halted else "",
                "resumed_at": rollout.resumed_at if resumed else None,
                "resumed_by": rollout.resumed_by if resumed else "",
                "resume_reason": rollout.resume_reason if resumed else "",
                "deployed": sum(w["deployed"] for w in waves),
                "failed": sum(w["failed"] for w in waves),
                "waves": waves,
                "rollbacks": [
                    {
                        "occurred_at": rb.occurred_at,
                        "actor": rb.actor,
                        "what": rb.what,
                        "outcome": rb.outcome,
                        "outcome_label": RollbackOutcome(rb.outcome).label,
                        "targets": rb.target_count,
                        "is_manual": rb.is_manual,
                    }
                    for rb in rollout.rollbacks.all()
                ],
            }
        )
    return rows


def visible_windows(principal: Any = None) -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.select_related("site", "asset_class").order_by("name")


@dataclass(frozen=True)
class CalendarDay:
    """One local date of the client with the windows opening on it."""

    day: date
    openings: list[dict[str, Any]]


def window_calendar(
    *,
    at: datetime,
    tz: ZoneInfo,
    days: int = 28,
    among: list[MaintenanceWindow] | None = None,
) -> list[CalendarDay]:
    """The next openings of the client's active windows (open now or opening within ``days``
    days), by local date of the client's time zone; each names its window, scope and local
    start and end (with the zone's abbreviation in force then, so a DST change shows).
    ``among``: the windows already read (else they are read here)."""
    active = [w for w in (visible_windows() if among is None else among) if w.is_active]
    rows = windows.calendar_openings([(w, w.spec) for w in active], tz, at, days=days)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for start, end, window in rows:
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        by_day.setdefault(local_start.date(), []).append(
            {
                "window": window,
                "start": local_start,
                "end": local_end,
                "is_open": start <= at < end,
                "ends_later_day": local_end.date() != local_start.date(),
            }
        )
    return [CalendarDay(day=d, openings=o) for d, o in by_day.items()]


def window_openings(
    window: MaintenanceWindow, *, at: datetime, tz: ZoneInfo, count: int = 6
) -> list[tuple[datetime, datetime]]:
    """The window's opening in progress at ``at`` (if any) and the next ones, ``count`` in
    all, as local (start, end) of the client's time zone."""
    rows = []
    spec = window.spec
    for start, end in windows.occurrences(spec, tz, at.astimezone(tz).date() - timedelta(days=4)):
        if end <= at:
            continue
        rows.append((start.astimezone(tz), end.astimezone(tz)))
        if len(rows) >= count:
            break
    return rows


def patch_choices(*, at: datetime, search: str = "") -> list[dict[str, Any]]:
    """The patches open findings a rollout may carry, one row per patch (devices missing it,
    findings, overdue, earliest due, worst tier, KEV), most devices first; ``search`` keeps
    those whose identifier or package contains it."""
    from .services import ROLLABLE_STATES

    qs = Finding.objects.filter(state__in=ROLLABLE_STATES)
    needle = search.strip()
    if needle:
        qs = qs.filter(Q(patch_identifier__icontains=needle) | Q(package_name__icontains=needle))
    tier_by_rank = {rank: tier for tier, rank in TIER_RANK.items()}
    rows = []
    for row in patch_groups(qs, at=at, sort="-devices"):
        tier = tier_by_rank.get(row["tier_rank"], "")
        label = SeverityTier(tier).label if tier in SeverityTier.values else ""
        rows.append({**row, "tier": tier, "tier_label": label})
    return rows


def rollout_job_status(rollout: Rollout, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """What the rollout page polls: the rollout's state, and per wave its state, counts and
    each device's deployment result (status, window, times, message). Times are ISO 8601 in
    UTC; ``window`` and ``updated`` are also written out in ``tz`` (the client's zone)."""
    tz = tz or ZoneInfo("UTC")
    waves = []
    for wave in rollout.waves.select_related("ring").prefetch_related(
        Prefetch("results", queryset=DeploymentResult.objects.select_related("asset"))
    ):
        results = list(wave.results.all())
        counts = {s.value: 0 for s in DeploymentStatus}
        for result in results:
            counts[result.status] += 1
        waves.append(
            {
                "id": str(wave.uuid),
                "ring": wave.ring.key,
                "state": wave.state,
                "state_label": wave.get_state_display(),
                "counts": counts,
                "devices": [
                    {
                        "id": str(r.uuid),
                        "hostname": r.asset.hostname,
                        "status": r.status,
                        "status_label": r.get_status_display(),
                        "window_start": _iso(r.window_start),
                        "window_end": _iso(r.window_end),
                        "attempted_at": _iso(r.attempted_at),
                        "deployed_at": _iso(r.deployed_at),
                        "verified_at": _iso(r.verified_at),
                        "failed_at": _iso(r.failed_at),
                        "message": r.message,
                        "window": _local_span(r.window_start, r.window_end, tz),
                        "updated": _local(_last_change(r), tz),
                    }
                    for r in results
                ],
            }
        )
    return {
        "id": str(rollout.uuid),
        "state": rollout.state,
        "state_label": rollout.get_state_display(),
        "waves": waves,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%a %d %b %H:%M %Z") if value else ""


def _local_span(start: datetime | None, end: datetime | None, tz: ZoneInfo) -> str:
    if not start or not end:
        return ""
    return f"{start.astimezone(tz):%a %d %b %H:%M}–{end.astimezone(tz):%H:%M %Z}"


def _last_change(result: DeploymentResult) -> datetime | None:
    times = [
        t
        for t in (
            result.attempted_at,
            result.deployed_at,
            result.verified_at,
            result.failed_at,
            result.rolled_back_at,
        )
        if t
    ]
    return max(times) if times else None


def visible_runbook_checks(principal: Any = None) -> QuerySet[RunbookCheck]:
    return RunbookCheck.objects.order_by("order", "name")


def visible_restore_tests(principal: Any = None) -> QuerySet[RestoreTest]:
    """Restore tests of the client's critical systems, newest scheduled first."""
    return RestoreTest.objects.select_related("asset").order_by("-scheduled_for", "-pk")


def membership_csv(ring: Ring | None = None) -> str:
    """Ring membership as CSV: ring, hostname, asset id, OS family, role, class, pinned."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(
        [
            "ring",
            "hostname",
            "asset_id",
            "os_family",
            "role",
            "asset_class",
            "pinned",
            "assigned_at",
        ]
    )
    rows = RingMembership.objects.select_related("ring", "asset", "asset__asset_class")
    if ring is not None:
        rows = rows.filter(ring=ring)
    for m in rows.order_by("ring__order", "asset__hostname"):
        writer.writerow(
            [
                m.ring.key,
                m.asset.hostname,
                str(m.asset.uuid),
                m.asset.os_family,
                m.asset.role,
                m.asset.asset_class.key,
                "yes" if m.is_pinned else "no",
                m.assigned_at.isoformat(),
            ]
        )
    return buffer.getvalue()


# The aggregates of ``deployment_counts`` over the attempted results.
DEPLOYMENT_COUNTS = {"attempted": Count("id"), "failed": Count("id", filter=FAILED_INSTALL)}


def _results(period_start: datetime, period_end: datetime, ring: Ring | None = None):
    rows = DeploymentResult.objects.filter(
        status__in=ATTEMPTED, attempted_at__gte=period_start, attempted_at__lt=period_end
    )
    if ring is not None:
        rows = rows.filter(wave__ring=ring)
    return rows


def deployment_counts(
    period_start: datetime, period_end: datetime, *, ring: Ring | None = None
) -> tuple[int, int]:
    """(failed, attempted) deployment results attempted in [period_start, period_end).

    A result counts as attempted once a real (not dry-run) job reported it, whatever happened
    after (verified and rolled-back results were attempted too); failed is ``FAILED_INSTALL``.
    """
    counts = _results(period_start, period_end, ring).aggregate(**DEPLOYMENT_COUNTS)
    return counts["failed"], counts["attempted"]


def attempted_results(period_start: datetime, period_end: datetime) -> QuerySet[DeploymentResult]:
    """Deployment results attempted in [period_start, period_end), every ring: what
    ``deployment_counts`` aggregates with ``DEPLOYMENT_COUNTS`` (for callers that run the
    aggregate together with others)."""
    return _results(period_start, period_end)


def failure_rate(
    ring: Ring | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> Decimal | None:
    """Failed ÷ attempted in percent for one ring (or all), None when nothing was attempted."""
    if period_start is None or period_end is None:
        raise ValueError("failure_rate needs period_start and period_end.")
    failed, attempted = deployment_counts(period_start, period_end, ring=ring)
    if not attempted:
        return None
    return (Decimal(failed) * 100 / attempted).quantize(Decimal("0.01"))


def failure_rates_by_ring(period_start: datetime, period_end: datetime) -> list[dict[str, Any]]:
    rates = []
    for ring in Ring.objects.order_by("order"):
        failed, attempted = deployment_counts(period_start, period_end, ring=ring)
        rates.append(
            {
                "ring": ring,
                "failed": failed,
                "attempted": attempted,
                "rate": failure_rate(ring, period_start, period_end),
            }
        )
    return rates


def _history_text(event: EvidenceEvent) -> str:
    """One readable line per event of a rollout's history (never a raw payload)."""
    p = event.payload or {}
    ring = p.get("ring") or ""
    where = f" in {ring}" if ring else ""
    texts = {
        "rollout.created": lambda: (
            "Created"
            + (
                f" in the emergency lane ({p.get('soak_hours')} h soak): "
                if p.get("expedited")
                else ""
            )
            + (p.get("expedite_reason") or "")
        ),
        "wave.approved": lambda: (
            f"Promotion{where} approved ({str(p.get('role', '')).replace('_', ' ')})"
        ),
        "wave.promoted": lambda: (
            f"Promoted{where} on its own" if p.get("automatic") else f"Promoted{where}"
        ),
        "wave.skipped": lambda: f"Skipped{where}: {p.get('reason', '')}",
        "wave.halted": lambda: f"Halted{where}: {p.get('reason', '')}",
        "rollout.halted": lambda: f"Rollout halted: {p.get('reason', '')}",
        "rollout.resumed": lambda: f"Resumed{where}: {p.get('reason', '')}",
        "rollback.requested": lambda: (
            f"Rollback requested on {len(p.get('assets') or [])} device(s) through "
            f"{p.get('connector', '')}: {p.get('reason', '')}"
        ),
        "rollback.succeeded": lambda: f"Rolled back{where}",
        "rollback.failed": lambda: f"Rollback failed{where}: {p.get('message', '')}",
        "rollback.completed": lambda: (
            f"Rollback {p.get('outcome', '')}: {p.get('rolled_back', 0)} rolled back, "
            f"{p.get('failed', 0)} failed"
        ),
        "rollback.recorded": lambda: (
            f"Rollback done by hand ({p.get('outcome', '')}): {p.get('what', '')}"
        ),
        "deployment.succeeded": lambda: f"Deployed{where}",
        "deployment.failed": lambda: f"Deployment failed{where}: {p.get('message', '')}",
        "deployment.verified": lambda: (
            f"{p.get('assets', 0)} device(s) verified by inventory{where}"
        ),
        "wave.passed": lambda: f"Passed{where}",
        "wave.soaking": lambda: f"Soaking{where} until {p.get('soak_ends_at', '')}",
        "rollout.completed": lambda: f"Completed: {p.get('deployed', 0)} device(s) deployed",
        "rollout.nothing_deployed": lambda: (
            f"Ended without deploying anything: {p.get('reason', '')}"
        ),
    }
    make = texts.get(event.kind)
    return make() if make else event.kind.replace(".", " ").replace("_", " ").capitalize() + where


# One event per device that went well: the wave's counts say it; the history keeps the rest.
PER_DEVICE_SUCCESS_KINDS = ("deployment.succeeded", "rollback.succeeded")


def rollout_history(rollout: Rollout, limit: int = 300) -> list[dict[str, Any]]:
    """The rollout's evidence events in chain order: its own, its waves' and the deployment and
    rollback failures that name it, each with its sequence number, time, actor and hash."""
    rollout_id = str(rollout.uuid)
    wave_ids = [str(u) for u in rollout.waves.values_list("uuid", flat=True)]
    events = (
        EvidenceEvent.objects.filter(
            Q(subject_type="rollout", subject_id=rollout_id)
            | Q(subject_type="wave", subject_id__in=wave_ids)
            | Q(payload__rollout=rollout_id)
        )
        .exclude(kind__in=PER_DEVICE_SUCCESS_KINDS)
        .order_by("sequence")[:limit]
    )
    return [
        {
            "sequence": e.sequence,
            "occurred_at": e.occurred_at,
            "kind": e.kind,
            "actor": e.actor,
            "hash": e.hash,
            "text": _history_text(e),
        }
        for e in events
    ]


def visible_patch_policies(principal: Any = None) -> QuerySet[PatchPolicy]:
    """The client's patch policies with their asset classes and rings, and their latest run's
    outcome and time (``last_outcome``, ``last_ran_at``)."""
    latest = PolicyRun.objects.filter(policy=OuterRef("pk")).order_by("-occurrence")
    return (
        PatchPolicy.objects.prefetch_related("asset_classes", "rings")
        .annotate(
            last_outcome=Subquery(latest.values("outcome")[:1]),
            last_ran_at=Subquery(latest.values("ran_at")[:1]),
            run_count=Count("runs", distinct=True),
        )
        .order_by("name")
    )


def visible_policy_runs(policy: PatchPolicy) -> QuerySet[PolicyRun]:
    return PolicyRun.objects.filter(policy=policy).select_related("rollout").order_by("-occurrence")


def visible_policy_templates(principal: Any = None) -> QuerySet[PolicyTemplate]:
    """MSP-wide templates (public schema); the callers check the MSP-wide capability."""
    return PolicyTemplate.objects.order_by("name")


def restore_test_rows(period_start: datetime, period_end: datetime) -> list[dict[str, Any]]:
    """The restore tests done in [period_start, period_end), oldest first, for reports:
    ``{"id", "hostname", "asset_class", "what", "performed_at", "performed_by", "outcome",
    "outcome_label", "evidence_url", "note"}``."""
    tests = (
        RestoreTest.objects.filter(
            performed_at__gte=period_start,
            performed_at__lt=period_end,
            outcome__in=[RestoreOutcome.PASSED, RestoreOutcome.FAILED],
        )
        .select_related("asset", "asset__asset_class")
        .order_by("performed_at", "pk")
    )
    return [
        {
            "id": str(t.uuid),
            "hostname": t.asset.hostname,
            "asset_class": t.asset.asset_class.name,
            "what": t.what,
            "performed_at": t.performed_at,
            "performed_by": t.performed_by,
            "outcome": t.outcome,
            "outcome_label": t.get_outcome_display(),
            "evidence_url": t.evidence_url,
            "note": t.note,
        }
        for t in tests
    ]
