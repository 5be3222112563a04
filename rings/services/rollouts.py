"""Creating rollouts: which findings a rollout takes, its preview per ring, the emergency lane's
check, each asset's maintenance window and reboot policy, and the rollout with its waves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from evidence.services import actor_label, record_event
from findings.choices import FindingState, RebootPolicy, SeverityTier
from findings.models import Finding, SlaRule
from findings.sla import DEFAULT_REBOOT_POLICY
from inventory.models import Asset
from rings.choices import ApproverRole, RestartMode, RolloutSelection
from rings.models import MaintenanceWindow, Ring, Rollout, Wave
from rings.services.approvals import ApprovalRefused
from tenants.models import User

# Open findings a rollout may carry (verified, excepted and not-applicable ones are done).
ROLLABLE_STATES = (FindingState.OPEN, FindingState.SCHEDULED, FindingState.FAILED)


# An expedited wave does not wait for a maintenance window: once approved and promoted its jobs
# may run during this long (and an offline device gets another such window when it misses it).
EXPEDITED_WINDOW = timedelta(hours=4)


def _finding_uuids(findings: Iterable[Finding]) -> list[str]:
    """Finding UUIDs as strings, sorted: the ``findings`` field of deployment events."""
    return sorted(str(f.uuid) for f in findings)


def reboot_policy_for(asset: Asset, tier: str | None = None) -> str:
    """The reboot policy of the client's SLA policy for the asset's class (and tier).

    Reads ``findings.SlaRule.reboot_policy``; without a rule falls back to
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
class DevicePreview:
    """One device a wave would patch: its patches and the maintenance window it would wait for
    (open at the preview's instant, else its next opening; None when no window applies)."""

    asset_id: int
    hostname: str
    patches: tuple[str, ...]
    window_start: datetime | None
    window_end: datetime | None
    window_names: tuple[str, ...]


@dataclass(frozen=True)
class RingPreview:
    """What one ring's wave would do: its members, how many of them need the patches, and
    (``assets``) each of those devices with its window."""

    ring: Ring
    members: int
    devices: int
    findings: int
    soak_hours: int
    assets: tuple[DevicePreview, ...] = ()

    @property
    def will_skip(self) -> bool:
        return self.devices == 0

    @property
    def first_opening(self) -> DevicePreview | None:
        """The device whose window opens first (when the wave could start deploying)."""
        timed = [a for a in self.assets if a.window_start is not None]
        return min(timed, key=lambda a: a.window_start) if timed else None

    @property
    def without_window(self) -> int:
        return sum(1 for a in self.assets if a.window_start is None)

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
    *, findings: Sequence[Finding], soak_hours: int | None = None, at: datetime | None = None
) -> list[RingPreview]:
    """Per ring, in order: members, devices that would be patched (members carrying at least one
    of the findings) and findings. A ring with no such device would be skipped. Each device
    comes with its patches and the maintenance window (in the client's zone) it would wait for,
    the one open at ``at`` or its next opening."""
    at = at or timezone.now()
    by_asset: dict[int, int] = defaultdict(int)
    patches: dict[int, set[str]] = defaultdict(set)
    assets: dict[int, Asset] = {}
    for finding in findings:
        by_asset[finding.asset_id] += 1
        patches[finding.asset_id].add(finding.patch_identifier)
        assets[finding.asset_id] = finding.asset
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
    windows = list(MaintenanceWindow.objects.filter(is_active=True).order_by("name"))
    opening_of: dict[tuple[int, ...], tuple[datetime, datetime] | None] = {}
    out = []
    for ring in Ring.objects.order_by("order"):
        ring_assets = [a for a, r in ring_of.items() if r == ring.pk]
        devices = []
        for asset_id in ring_assets:
            asset = assets[asset_id]
            applicable = applicable_windows(asset, windows)
            key = tuple(w.pk for w in applicable)
            if key not in opening_of:  # devices sharing their windows share the opening
                opening_of[key] = asset_window(asset, applicable, at)
            found = opening_of[key]
            devices.append(
                DevicePreview(
                    asset_id=asset_id,
                    hostname=asset.hostname,
                    patches=tuple(sorted(patches[asset_id])),
                    window_start=found[0] if found else None,
                    window_end=found[1] if found else None,
                    window_names=tuple(w.name for w in applicable),
                )
            )
        devices.sort(key=lambda d: d.hostname)
        out.append(
            RingPreview(
                ring=ring,
                members=members.get(ring.pk, 0),
                devices=len(ring_assets),
                findings=sum(by_asset[a] for a in ring_assets),
                soak_hours=min(ring.soak_hours, soak_hours)
                if soak_hours is not None
                else ring.soak_hours,
                assets=tuple(devices),
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
    start_approver_role: str = ApproverRole.NONE,
) -> Rollout:
    """A rollout of chosen findings, chosen patch identifiers, or every open critical finding of
    one OS family, with one pending wave per ring.

    ``expedite`` starts it in the emergency lane (``expedite_check``): a person gives the reason,
    every wave gets the shortened soak (``soak_hours``, or the suggested one) and needs an
    explicit approval even in a ring that would promote on its own, and promoted waves deploy at
    once instead of waiting for a maintenance window.

    ``start_approver_role`` (a patch policy's approval step): the first wave to deploy waits for
    an approval by that role, whatever its ring's approver.
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
    if start_approver_role not in ApproverRole.values:
        raise ValidationError({"start_approver_role": f"Unknown role “{start_approver_role}”."})
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
            start_approver_role=start_approver_role,
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
                "start_approver": start_approver_role,
            },
            occurred_at=at,
        )
    return rollout


def draft_rollouts() -> Any:
    """Rollouts not started yet (active, every wave still pending): findings may join them."""
    from rings.choices import RolloutState, WaveState

    started = Wave.objects.exclude(state=WaveState.PENDING).values("rollout_id")
    return (
        Rollout.objects.filter(state=RolloutState.ACTIVE, is_expedited=False)
        .exclude(pk__in=started)
        .order_by("-created_at", "-pk")
    )


def add_findings_to_rollout(
    *, rollout: Rollout, finding_ids: Sequence[Any], actor: Any, at: datetime | None = None
) -> list[Finding]:
    """Add chosen open findings (and their patches) to a rollout no wave of which has started;
    the findings it already carries are left as they are. Returns the findings added."""
    at = at or timezone.now()
    findings = select_findings(selection=RolloutSelection.FINDINGS, finding_ids=finding_ids)
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
        if not draft_rollouts().filter(pk=locked.pk).exists():
            raise ValidationError(
                {"rollout": f"“{locked.name}” has started; findings join only a rollout "
                 "whose waves are all pending."}
            )  # fmt: skip
        carried = set(locked.findings.values_list("pk", flat=True))
        added = [f for f in findings if f.pk not in carried]
        if not added:
            raise ValidationError({"findings": f"“{locked.name}” already carries them all."})
        locked.findings.add(*added)
        locked.patch_identifiers = sorted(
            set(locked.patch_identifiers) | {f.patch_identifier for f in added}
        )
        locked.save(update_fields=["patch_identifiers"])
        record_event(
            kind="rollout.findings_added",
            subject_type="rollout",
            subject_id=locked.uuid,
            actor=actor,
            payload={
                "patches": locked.patch_identifiers,
                "findings": _finding_uuids(locked.findings.all()),
                "added": _finding_uuids(added),
            },
            occurred_at=at,
        )
    return added
