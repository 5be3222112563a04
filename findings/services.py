"""Write side of the patch core: findings with their SLA clock, verification, the SLA policy.

The inventory ingest calls ``findings.pipeline.refresh_findings`` at the end of its transaction;
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
change never erases a breach. Shortening a window can make a finding overdue at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q

from catalogue.models import Advisory, Vulnerability
from evidence.services import actor_label, record_event, record_events
from inventory.choices import SoftwareKind
from inventory.models import Asset, AssetClass, InstalledSoftware, PendingUpdate

from . import risk, sla
from .choices import FindingOrigin, FindingState, RebootPolicy, SeverityTier
from .models import Finding, SlaPolicy, SlaPolicyChange, SlaRule
from .versions import is_at_least

__all__ = [
    "MissingPatch",
    "SyncResult",
    "sync_findings_for_asset",
    "sync_findings_for_assets",
    "AssetMatches",
    "findings_from_pending_updates",
    "pending_patches_by_asset",
    "verify_findings_for_asset",
    "window_hours_for",
    "get_policy",
    "update_sla_policy",
]

KB_RE = re.compile(r"^KB\d{5,8}$", re.IGNORECASE)
CLOSED_STATES = (FindingState.VERIFIED, FindingState.NOT_APPLICABLE)


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


# --- SLA windows ---------------------------------------------------------------------------------


def get_policy() -> SlaPolicy:
    """The client's SLA policy (seeded by migration; created with defaults if ever missing)."""
    policy = SlaPolicy.objects.order_by("pk").first()
    if policy is None:
        with transaction.atomic():
            policy = SlaPolicy.objects.create()
            classes = {c.key: c for c in AssetClass.objects.all()}
            SlaRule.objects.bulk_create(
                SlaRule(
                    policy=policy,
                    asset_class=classes[key],
                    tier=tier,
                    window_hours=hours,
                    reboot_policy=reboot,
                    reboot_weekday=weekday,
                    reboot_time=at,
                )
                for (key, tier), (hours, reboot, weekday, at) in sla.DEFAULT_RULES.items()
                if key in classes
            )
    return policy


def _windows_for_class(asset_class_id: int) -> dict[str, int]:
    rules = SlaRule.objects.filter(asset_class_id=asset_class_id).values_list(
        "tier", "window_hours"
    )
    return dict(sla.FALLBACK_WINDOW_HOURS) | dict(rules)


def window_hours_for(*, asset: Asset, tier: str) -> int:
    """Deployment window (hours) of the asset's class for ``tier``."""
    return _windows_for_class(asset.asset_class_id)[tier]


# --- Findings ------------------------------------------------------------------------------------


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


def _windows_by_class(class_ids: set[int]) -> dict[int, dict[str, int]]:
    out = {pk: dict(sla.FALLBACK_WINDOW_HOURS) for pk in class_ids}
    for class_id, tier, hours in SlaRule.objects.filter(asset_class_id__in=class_ids).values_list(
        "asset_class_id", "tier", "window_hours"
    ):
        out[class_id][tier] = hours
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
            Finding.objects.bulk_create(to_create)
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


def _finding_payload(f: Finding) -> dict[str, Any]:
    return {
        "asset": str(f.asset.uuid),
        "hostname": f.asset.hostname,
        "patch": f.patch_identifier,
        "package": f.package_name,
        "installed_version": f.installed_version,
        "fixed_version": f.fixed_version,
        "advisory": f.advisory.identifier if f.advisory_id else None,
        "cves": list(f.cves),
        "kev": f.is_kev,
        "tier": f.tier,
        "risk_score": str(f.risk_score),
        "origin": f.origin,
        "detected_at": f.detected_at.isoformat(),
        "due_at": f.due_at.isoformat(),
    }


def _kb_of(finding: Finding) -> str | None:
    for candidate in (
        finding.patch_identifier,
        finding.advisory.identifier if finding.advisory_id else "",
    ):
        if candidate and KB_RE.match(candidate):
            return candidate.upper()
    return None


def _fix_evidence(
    finding: Finding,
    hotfixes: set[str],
    software: dict[str, list[tuple[str, str]]],
    satisfied_kbs: set[str] | None = None,
    proven: dict[str, str] | None = None,
) -> str | None:
    """What proves the fix is installed, or None."""
    if proven and finding.patch_identifier in proven:
        return proven[finding.patch_identifier]
    kb = _kb_of(finding)
    if kb is not None:
        if kb in hotfixes:
            return f"{kb} installed"
        if satisfied_kbs and kb in {k.upper() for k in satisfied_kbs}:
            return f"{kb} replaced by a later installed update ({', '.join(sorted(hotfixes))})"
        return None
    if finding.package_name and finding.fixed_version:
        for kind, version in software.get(finding.package_name.lower(), []):
            if version and is_at_least(version, finding.fixed_version, kind=kind):
                return f"{finding.package_name} {version} ≥ {finding.fixed_version}"
    return None


Inventory = tuple[set[str], dict[str, list[tuple[str, str]]]]


def _inventories_of(asset_ids: list[int], names: set[str] | None = None) -> dict[int, Inventory]:
    """Installed hotfixes and software (name → [(kind, version)]) per asset, one query;
    with ``names``, only hotfixes and software of those names are read."""
    out: dict[int, Inventory] = {pk: (set(), {}) for pk in asset_ids}
    rows = InstalledSoftware.objects.filter(asset_id__in=asset_ids)
    if names is not None:
        rows = rows.filter(Q(kind=SoftwareKind.HOTFIX) | Q(name__in=names))
    for asset_id, kind, name, version in rows.values_list("asset_id", "kind", "name", "version"):
        hotfixes, software = out[asset_id]
        if kind == SoftwareKind.HOTFIX:
            hotfix = name.strip().upper()
            hotfixes.add(hotfix)
            # A re-released update (KB2536276-v2) is that KB.
            hotfixes.add(re.sub(r"-V\d+$", "", hotfix))
        else:
            software.setdefault(name.lower(), []).append((kind, version))
    return out


def _inventory_of(asset: Asset) -> Inventory:
    return _inventories_of([asset.pk])[asset.pk]


def verify_findings_for_asset(
    asset: Asset, at: datetime, *, satisfied_kbs: set[str] | None = None
) -> int:
    """Verify every outstanding finding of ``asset`` whose fix the inventory now shows.

    A KB also counts as shown when it is in ``satisfied_kbs`` (superseded by an installed one).
    Returns how many findings became verified. Each gets ``verified_at = at`` and a
    ``finding.verified`` evidence event naming what proved it.
    """
    with transaction.atomic():
        counts = _verify_many(
            asset_ids=[asset.pk],
            assets={asset.pk: asset},
            at=at,
            satisfied={asset.pk: satisfied_kbs},
        )
    return counts.get(asset.pk, 0)


def _verify_many(
    *,
    asset_ids: list[int],
    assets: dict[int, Asset],
    at: datetime,
    satisfied: dict[int, set[str] | None],
    proofs: dict[int, dict[str, str]] | None = None,
) -> dict[int, int]:
    """Verify outstanding findings of the given assets (caller's transaction); count per asset.

    The outstanding findings are locked first, so a deployment recorded concurrently waits and
    the state named in each event is the one replaced."""
    outstanding = list(
        Finding.objects.filter(asset_id__in=asset_ids)
        .exclude(state__in=CLOSED_STATES)
        .select_for_update(of=("self",))
        .select_related("advisory")
        .order_by("pk")
    )
    counts: dict[int, int] = {}
    if not outstanding:
        return counts
    inventories = _inventories_of(
        sorted({f.asset_id for f in outstanding}),
        names={f.package_name for f in outstanding if f.package_name},
    )
    proven: list[tuple[Finding, str]] = []
    for finding in outstanding:
        proof = _fix_evidence(
            finding,
            *inventories[finding.asset_id],
            satisfied.get(finding.asset_id),
            (proofs or {}).get(finding.asset_id),
        )
        if proof is not None:
            proven.append((finding, proof))
    if not proven:
        return counts
    Finding.objects.filter(pk__in=[f.pk for f, _ in proven]).update(
        state=FindingState.VERIFIED, verified_at=at
    )
    events = []
    for finding, proof in proven:
        counts[finding.asset_id] = counts.get(finding.asset_id, 0) + 1
        asset = assets.get(finding.asset_id)
        events.append(
            {
                "kind": "finding.verified",
                "subject_type": "finding",
                "subject_id": finding.uuid,
                "actor": "system",
                "occurred_at": at,
                "payload": {
                    "patch": finding.patch_identifier,
                    "hostname": asset.hostname if asset is not None else "",
                    "from_state": finding.state,
                    "proof": proof,
                    "verified_at": at.isoformat(),
                    "within_sla": at <= finding.due_at,
                },
            }
        )
    record_events(events)
    return counts


# --- SLA policy -----------------------------------------------------------------------------------

_RULE_KEYS = {
    "asset_class",
    "tier",
    "window_hours",
    "reboot_policy",
    "reboot_weekday",
    "reboot_time",
}


def _parse_rule(raw: Any, classes: dict[str, AssetClass], index: int) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise ValidationError({f"rules[{index}]": "Each rule is an object."})
    key = raw.get("asset_class")
    if key not in classes:
        errors["asset_class"] = f"Unknown asset class {key!r}."
    tier = raw.get("tier")
    if tier not in SeverityTier.values:
        errors["tier"] = f"Tier is one of {', '.join(SeverityTier.values)}."
    hours = raw.get("window_hours")
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 366:
        errors["window_hours"] = "A whole number of hours from 1 to 8784."
    reboot = raw.get("reboot_policy")
    if reboot not in RebootPolicy.values:
        errors["reboot_policy"] = f"Reboot policy is one of {', '.join(RebootPolicy.values)}."
    weekday = raw.get("reboot_weekday")
    at: time | None = None
    if reboot == RebootPolicy.SCHEDULED:
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            errors["reboot_weekday"] = (
                "A scheduled reboot needs a weekday 0 (Monday) to 6 (Sunday)."
            )
        try:
            at = time.fromisoformat(str(raw.get("reboot_time")))
        except ValueError:
            errors["reboot_time"] = "A scheduled reboot needs a time HH:MM (client time zone)."
    else:
        weekday = None
    if errors:
        raise ValidationError({f"rules[{index}].{k}": v for k, v in errors.items()})
    return {
        "asset_class": classes[key],
        "tier": tier,
        "window_hours": hours,
        "reboot_policy": reboot,
        "reboot_weekday": weekday,
        "reboot_time": at,
    }


def update_sla_policy(*, rules: list[dict[str, Any]], actor: Any, at: datetime) -> SlaPolicyChange:
    """Replace the windows and reboot policies of the given (asset class, tier) rules.

    Rules not mentioned stay as they are. Writes a ``SlaPolicyChange`` (before/after), an
    ``sla_policy.changed`` evidence event, and re-dates open findings by the module's rule.
    Raises ``ValidationError`` (nothing written) on any bad rule.
    """
    if not isinstance(rules, list) or not rules:
        raise ValidationError({"rules": "Give at least one rule."})
    classes = {c.key: c for c in AssetClass.objects.all()}
    parsed = [_parse_rule(raw, classes, i) for i, raw in enumerate(rules)]
    pairs = [(p["asset_class"].key, p["tier"]) for p in parsed]
    if len(set(pairs)) != len(pairs):
        raise ValidationError({"rules": "Each asset class and tier appears at most once."})
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=get_policy().pk)
        current = {
            (r.asset_class.key, r.tier): r
            for r in policy.rules.select_related("asset_class").select_for_update(of=("self",))
        }
        before = sla.rules_snapshot(sorted(current.values(), key=_rule_key))
        redated = 0
        for p in parsed:
            key = (p["asset_class"].key, p["tier"])
            rule = current.get(key)
            old_hours = rule.window_hours if rule else sla.FALLBACK_WINDOW_HOURS[p["tier"]]
            if rule is None:
                rule = SlaRule(policy=policy, **p)
                current[key] = rule
            else:
                for name, value in p.items():
                    setattr(rule, name, value)
            rule.full_clean()
            rule.save()
            if p["window_hours"] != old_hours:
                redated += (
                    Finding.objects.filter(
                        asset__asset_class=p["asset_class"], tier=p["tier"], due_at__gte=at
                    )
                    .exclude(state__in=CLOSED_STATES)
                    .update(due_at=F("detected_at") + timedelta(hours=p["window_hours"]))
                )
        after = sla.rules_snapshot(sorted(current.values(), key=_rule_key))
        if before == after:
            raise ValidationError({"rules": "Nothing changed."})
        SlaPolicy.objects.filter(pk=policy.pk).update(updated_at=at)
        change = SlaPolicyChange.objects.create(
            policy=policy,
            actor=actor_label(actor),
            at=at,
            before=before,
            after=after,
            redated_findings=redated,
        )
        changed = [a for a in after if a not in before]
        record_event(
            kind="sla_policy.changed",
            subject_type="sla_policy",
            subject_id=policy.pk,
            actor=actor,
            occurred_at=at,
            payload={"changed_rules": changed, "redated_findings": redated, "change": change.pk},
        )
    return change


def _rule_key(rule: SlaRule) -> tuple[str, int]:
    return (rule.asset_class.key, risk.TIER_RANK.get(rule.tier, 9))
