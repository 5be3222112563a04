"""Write side of the findings: findings with their SLA clock (verification in
``findings.verification``, the SLA policy in ``findings.policy``).

Every inventory ingest runs ``findings.pipeline.refresh_findings`` at the end of its transaction;
that builds each touched asset's missing patches (advisory matches and reported pending updates)
and calls, once per batch,

    sync_findings_for_assets(items=[AssetMatches(asset, matches, satisfied_kbs), ...], at=at)

which opens new findings, refreshes the tier and risk score of open ones and then verifies fixes
(``sync_findings_for_asset`` is the one-asset form). ``verify_findings_for_asset`` may also be
called alone.

**Only verification closes a finding**: a finding becomes ``verified`` when a later inventory
shows the fix installed (the KB among the asset's Windows hotfixes, or the package at a version
≥ the fixed version by its ecosystem's rules). A patch that stops being reported as pending, a
deployment, or any page or API call never closes a finding.

**Re-dating after an SLA policy change** (``update_sla_policy``): for each rule whose window
changed, every finding of that asset class and tier that is still outstanding (not verified, not
"not applicable") and **not yet overdue under the old window** (``at <= due_at``) gets
``due_at = detected_at + new window``. Findings already overdue keep their ``due_at``, so a policy
change never erases a breach. Shortening a window can make a finding overdue at once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from catalogue.models import Advisory, Vulnerability
from common.bulkinsert import insert_instances
from evidence.services import record_events
from findings import risk, sla
from findings.choices import FindingOrigin, FindingState, SeverityTier
from findings.models import Finding
from findings.policy import _windows_by_class
from findings.verification import (
    CLOSED_STATES,
    KB_RE,
    Inventory,
    _finding_payload,
    _fix_evidence,
    _inventories_of,
    _verify_many,
)
from inventory.models import Asset, PendingUpdate


@dataclass(frozen=True)
class MissingPatch:
    """One patch an asset misses, from a pending update or an advisory match."""

    patch_identifier: str
    package_name: str = ""
    installed_version: str = ""
    fixed_version: str = ""
    advisory: Advisory | None = None
    cves: tuple[str, ...] | list[str] = ()
    vendor_severity: str = SeverityTier.UNKNOWN
    reboot_required: bool = False
    origin: str = FindingOrigin.ADVISORY_MATCH
    replaces: tuple[str, ...] = ()  # older patches this one rolls up (superseded KBs)


@dataclass
class SyncResult:
    opened: list[Finding] = field(default_factory=list)
    reopened: int = 0
    updated: int = 0
    verified: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "opened": len(self.opened),
            "reopened": self.reopened,
            "updated": self.updated,
            "verified": self.verified,
        }


def findings_from_pending_updates(asset: Asset) -> list[MissingPatch]:
    """The asset's reported pending updates as missing patches (origin ``pending_update``).

    The patch identifier is the advisory the device named (KB…, USN-…) or, without one,
    ``<name>@<available version>``. The advisory is linked when the catalogue knows it.
    """
    return pending_patches_by_asset([asset.pk]).get(asset.pk, [])


def pending_patches_by_asset(asset_ids: list[int]) -> dict[int, list[MissingPatch]]:
    """``findings_from_pending_updates`` for many assets in two queries."""
    updates = list(
        PendingUpdate.objects.filter(asset_id__in=asset_ids).order_by("asset_id", "name", "pk")
    )
    identifiers = {u.advisory.strip() for u in updates if u.advisory.strip()}
    advisories = (
        {
            a.identifier.upper(): a
            for a in Advisory.objects.filter(
                identifier__in=identifiers | {i.upper() for i in identifiers}
            )
        }
        if identifiers
        else {}
    )
    out: dict[int, list[MissingPatch]] = {}
    seen: set[tuple[int, str]] = set()
    for u in updates:
        ident = u.advisory.strip() or f"{u.name}@{u.available_version}".rstrip("@")
        ident = ident.upper() if KB_RE.match(ident) else ident
        if (u.asset_id, ident) in seen:
            continue
        seen.add((u.asset_id, ident))
        out.setdefault(u.asset_id, []).append(
            MissingPatch(
                patch_identifier=ident[:200],
                package_name=u.name,
                installed_version=u.installed_version,
                fixed_version=u.available_version,
                advisory=advisories.get(ident.upper()),
                cves=tuple(sorted({c.strip().upper() for c in u.cves if c.strip()})),
                vendor_severity=u.severity,
                reboot_required=u.reboot_required,
                origin=FindingOrigin.PENDING_UPDATE,
            )
        )
    return out


def _assess(
    match: MissingPatch, asset: Asset, kev: set[str], scores: dict[str, risk.CveScores]
) -> tuple[str, Decimal, list[str]]:
    cves = [c.upper() for c in match.cves]
    kev_cves = sorted(set(cves) & kev)
    severity = match.vendor_severity
    if match.advisory is not None and match.advisory.vendor_severity != SeverityTier.UNKNOWN:
        severity = match.advisory.vendor_severity
    tier = risk.tier_for(severity, kev_cves)
    per = [scores[c] for c in cves if c in scores]
    cvss = max((s.cvss for s in per if s.cvss is not None), default=None)
    epss = max((s.epss for s in per if s.epss is not None), default=None)
    score = risk.risk_score(
        risk.RiskInput(
            cvss=cvss,
            epss=epss,
            is_kev=bool(kev_cves),
            is_ephi=asset.is_ephi,
            asset_class_key=asset.asset_class.key,
            role=asset.role,
        )
    )
    return tier, score, kev_cves


def _ordered_cves(cves: Any, scores: dict[str, risk.CveScores]) -> list[str]:
    """Upper-cased CVE ids without repeats, highest EPSS first (unscored last, then by id): the
    order the catalogue gives advisory matches, applied to reported updates too."""
    unique = {c.strip().upper() for c in cves if c and c.strip()}

    def key(cve: str) -> tuple[Decimal, str]:
        epss = scores[cve].epss if cve in scores else None
        return (-(epss if epss is not None else Decimal(-1)), cve)

    return sorted(unique, key=key)


@dataclass
class AssetMatches:
    """What one asset misses, for ``sync_findings_for_assets``."""

    asset: Asset
    matches: list[MissingPatch]
    satisfied_kbs: set[str] | None = None
    # Patch identifier → proof, for fixes the catalogue proves from the inventory although no
    # row of the finding's own name shows them (a program renamed by its update, such as
    # "Java 8 Update 391" replacing "Java 8 Update 381", or one updated past ranges that named
    # no fixed version).
    proven: dict[str, str] | None = None


def sync_findings_for_asset(
    *,
    asset: Asset,
    matches: list[MissingPatch],
    at: datetime,
    satisfied_kbs: set[str] | None = None,
) -> SyncResult:
    """Open a finding per missing patch (idempotent), refresh open ones, then verify fixes.

    A patch no longer listed in ``matches`` does **not** close its finding; only
    ``verify_findings_for_asset`` does, from the installed software. ``satisfied_kbs`` are KBs
    the catalogue counts as present although not installed themselves (replaced by a later
    cumulative update, see ``catalogue.matching.satisfied_windows_kbs``).
    """
    item = AssetMatches(asset=asset, matches=matches, satisfied_kbs=satisfied_kbs)
    return sync_findings_for_assets(items=[item], at=at)[asset.pk]


def _without_rejected_cves(items: list[AssetMatches]) -> list[AssetMatches]:
    """Drop CVEs their CNA or NVD rejected; a match left with no CVE raises no finding."""
    named = {c.upper() for item in items for m in item.matches for c in m.cves}
    rejected = (
        set(
            Vulnerability.objects.filter(cve_id__in=named, is_rejected=True).values_list(
                "cve_id", flat=True
            )
        )
        if named
        else set()
    )
    if not rejected:
        return items
    out = []
    for item in items:
        kept = []
        for m in item.matches:
            cves = tuple(c for c in m.cves if c.upper() not in rejected)
            if m.cves and not cves:
                continue
            kept.append(replace(m, cves=cves) if len(cves) != len(m.cves) else m)
        out.append(replace(item, matches=kept))
    return out


def sync_findings_for_assets(*, items: list[AssetMatches], at: datetime) -> dict[int, SyncResult]:
    """``sync_findings_for_asset`` for many assets at once (an ingest batch): a fixed number of
    queries for the batch, plus one per finding whose tier or state changes otherwise than by
    opening or verification. Returns a ``SyncResult`` per asset pk."""
    results = {item.asset.pk: SyncResult() for item in items}
    if not items:
        return results
    items = _without_rejected_cves(items)
    with transaction.atomic():
        ids = sorted(results)
        assets = {
            a.pk: a
            for a in Asset.objects.select_related("asset_class")
            .select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
        }
        all_cves = {c.upper() for item in items for m in item.matches for c in m.cves}
        kev = risk.is_kev(all_cves)
        scores = risk.cve_score_map(all_cves)
        windows = _windows_by_class({a.asset_class_id for a in assets.values()})
        existing: dict[tuple[int, str], Finding] = {}
        if any(item.matches for item in items):
            existing = {
                (f.asset_id, f.patch_identifier): f
                for f in Finding.objects.filter(asset_id__in=ids)
            }
        inventories: dict[int, Inventory] | None = None
        to_create: list[Finding] = []
        events: list[dict[str, Any]] = []
        for item in items:
            asset = assets[item.asset.pk]
            result = results[asset.pk]
            window = windows[asset.asset_class_id]
            for match in item.matches:
                tier, score, kev_cves = _assess(match, asset, kev, scores)
                cves = _ordered_cves(match.cves, scores)
                finding = existing.get((asset.pk, match.patch_identifier))
                older = _superseded_open_finding(existing, asset.pk, match)
                if finding is None and older is not None:
                    events.append(
                        _supersede(older, match, tier, score, kev_cves, cves, window[tier], at)
                    )
                    existing.pop((asset.pk, older.patch_identifier), None)
                    existing[(asset.pk, match.patch_identifier)] = older
                    result.updated += 1
                    continue
                if finding is None:
                    finding = Finding(
                        asset=asset,
                        advisory=match.advisory,
                        patch_identifier=match.patch_identifier,
                        package_name=match.package_name,
                        installed_version=match.installed_version,
                        fixed_version=match.fixed_version,
                        cves=cves,
                        is_kev=bool(kev_cves),
                        tier=tier,
                        risk_score=score,
                        origin=match.origin,
                        detected_at=at,
                        due_at=sla.due_at_for(at, window[tier]),
                    )
                    existing[(asset.pk, finding.patch_identifier)] = finding
                    to_create.append(finding)
                    result.opened.append(finding)
                elif finding.state == FindingState.VERIFIED and finding.verified_at < at:
                    if inventories is None:
                        inventories = _inventories_of(ids)
                    inv = inventories[asset.pk]
                    if _fix_evidence(finding, *inv, item.satisfied_kbs, item.proven) is not None:
                        continue  # stale report; the fix is installed
                    reopened = Finding.objects.filter(
                        pk=finding.pk, state=FindingState.VERIFIED
                    ).update(
                        state=FindingState.OPEN,
                        detected_at=at,
                        due_at=sla.due_at_for(at, window[tier]),
                        deployed_at=None,
                        verified_at=None,
                        tier=tier,
                        risk_score=score,
                        is_kev=bool(kev_cves),
                        cves=cves,
                        installed_version=match.installed_version,
                        fixed_version=match.fixed_version,
                    )
                    if reopened:
                        result.reopened += 1
                        events.append(
                            {
                                "kind": "finding.reopened",
                                "subject_type": "finding",
                                "subject_id": finding.uuid,
                                "actor": "system",
                                "occurred_at": at,
                                "payload": {"patch": finding.patch_identifier, "tier": tier},
                            }
                        )
                elif (
                    finding.pk is not None
                    and finding.state not in CLOSED_STATES
                    and (
                        finding.tier != tier
                        or finding.risk_score != score
                        or finding.is_kev != bool(kev_cves)
                        or list(finding.cves) != cves
                    )
                ):
                    changes: dict[str, Any] = {
                        "tier": tier,
                        "risk_score": score,
                        "is_kev": bool(kev_cves),
                        "cves": cves,
                    }
                    if tier != finding.tier:
                        changes["due_at"] = sla.due_at_for(finding.detected_at, window[tier])
                    Finding.objects.filter(pk=finding.pk).update(**changes)
                    result.updated += 1
                    if tier != finding.tier:
                        events.append(
                            {
                                "kind": "finding.retiered",
                                "subject_type": "finding",
                                "subject_id": finding.uuid,
                                "actor": "system",
                                "occurred_at": at,
                                "payload": {
                                    "patch": finding.patch_identifier,
                                    "from": finding.tier,
                                    "to": tier,
                                    "kev_cves": kev_cves,
                                    "due_at": changes["due_at"].isoformat(),
                                },
                            }
                        )
        if to_create:
            insert_instances(to_create)
            events = [
                {
                    "kind": "finding.detected",
                    "subject_type": "finding",
                    "subject_id": f.uuid,
                    "actor": "system",
                    "occurred_at": at,
                    "payload": _finding_payload(f),
                }
                for f in to_create
            ] + events
        record_events(events)
        verified = _verify_many(
            asset_ids=ids,
            assets=assets,
            at=at,
            satisfied={item.asset.pk: item.satisfied_kbs for item in items},
            proofs={item.asset.pk: item.proven for item in items if item.proven},
        )
        for pk, n in verified.items():
            results[pk].verified = n
    return results


def _superseded_open_finding(
    existing: dict[tuple[int, str], Finding], asset_id: int, match: MissingPatch
) -> Finding | None:
    """The open finding of an update ``match`` supersedes (rolls up), earliest detected first.

    Only an ``open`` finding moves to the newer update: one in a rollout, deployed, failed or
    under an exception keeps its KB and is verified once the newer update is installed."""
    older = [existing.get((asset_id, patch)) for patch in match.replaces]
    candidates = [
        f for f in older if f is not None and f.pk is not None and f.state == FindingState.OPEN
    ]
    return min(candidates, key=lambda f: (f.detected_at, f.pk), default=None)


def _supersede(
    finding: Finding,
    match: MissingPatch,
    tier: str,
    score: Decimal,
    kev_cves: list[str],
    cves: list[str],
    window_hours: int,
    at: datetime,
) -> dict[str, Any]:
    """Move an open finding onto the newer update that replaces its own, keeping its clock
    (``detected_at``; ``due_at`` is recomputed only when the tier changes). Returns the event."""
    previous = finding.patch_identifier
    due_at = (
        finding.due_at
        if tier == finding.tier
        else sla.due_at_for(finding.detected_at, window_hours)
    )
    Finding.objects.filter(pk=finding.pk, state=FindingState.OPEN).update(
        patch_identifier=match.patch_identifier,
        advisory=match.advisory,
        package_name=match.package_name,
        installed_version=match.installed_version,
        fixed_version=match.fixed_version,
        cves=cves,
        tier=tier,
        risk_score=score,
        is_kev=bool(kev_cves),
        due_at=due_at,
    )
    event = {
        "kind": "finding.superseded",
        "subject_type": "finding",
        "subject_id": finding.uuid,
        "actor": "system",
        "occurred_at": at,
        "payload": {
            "patch": match.patch_identifier,
            "from_patch": previous,
            "from_tier": finding.tier,
            "tier": tier,
            "kev_cves": kev_cves,
            "due_at": due_at.isoformat(),
        },
    }
    finding.patch_identifier = match.patch_identifier
    finding.tier, finding.due_at, finding.cves = tier, due_at, cves
    return event
