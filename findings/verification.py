"""Verification of findings: a finding is verified (closed) once a later inventory shows its fix
installed, a KB, a package at or above the fixed version, or the program outside every range of
its CVEs; each verification is an evidence event naming the finding."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower

from evidence.services import record_events
from findings.choices import FindingState
from findings.models import Finding
from findings.versions import is_at_least
from inventory.choices import InstallOutcome, InstallRecordSource, SoftwareKind
from inventory.models import Asset, InstalledSoftware, OsInstallRecord

KB_RE = re.compile(r"^KB\d{5,8}$", re.IGNORECASE)


CLOSED_STATES = (FindingState.VERIFIED, FindingState.NOT_APPLICABLE)


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


def kb_of(finding: Finding) -> str | None:
    """The KB a finding's fix is (its patch or advisory id), or None for a package fix."""
    return _kb_of(finding)


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


# The version rules of the package a record names.
_RECORD_KIND = {
    InstallRecordSource.APT_HISTORY: SoftwareKind.DEB,
    InstallRecordSource.DPKG_LOG: SoftwareKind.DEB,
    InstallRecordSource.DNF_RPM_LOG: SoftwareKind.RPM,
    InstallRecordSource.YUM_LOG: SoftwareKind.RPM,
    InstallRecordSource.SOFTWAREUPDATE: SoftwareKind.APP,
    InstallRecordSource.INSTALL_LOG: SoftwareKind.APP,
}


def os_records_for(findings: list[Finding], at: datetime) -> dict[int, OsInstallRecord]:
    """The OS install record that shows each finding's fix installed (by finding pk), where the
    asset's OS wrote one down by ``at``: the newest successful install of the finding's KB, or
    of its package at or above the fixed version. One query for all the findings."""
    wanted = [f for f in findings if _kb_of(f) or (f.package_name and f.fixed_version)]
    if not wanted:
        return {}
    kbs = {kb for f in wanted if (kb := _kb_of(f))}
    names = {f.package_name.lower() for f in wanted if f.package_name and not _kb_of(f)}
    rows = (
        OsInstallRecord.objects.filter(
            asset_id__in={f.asset_id for f in wanted},
            outcome=InstallOutcome.INSTALLED,
            occurred_at__lte=at,
        )
        .annotate(lname=Lower("name"))
        .filter(Q(kb__in=kbs) | Q(lname__in=names))
        .order_by("-occurred_at", "-pk")
    )
    by_kb: dict[tuple[int, str], OsInstallRecord] = {}
    by_name: dict[tuple[int, str], list[OsInstallRecord]] = {}
    for record in rows:
        if record.kb:
            by_kb.setdefault((record.asset_id, record.kb.upper()), record)
        by_name.setdefault((record.asset_id, record.name.lower()), []).append(record)
    found: dict[int, OsInstallRecord] = {}
    for finding in wanted:
        kb = _kb_of(finding)
        if kb:
            record = by_kb.get((finding.asset_id, kb))
        else:
            record = next(
                (
                    r
                    for r in by_name.get((finding.asset_id, finding.package_name.lower()), [])
                    if r.version
                    and is_at_least(
                        r.version,
                        finding.fixed_version,
                        kind=_RECORD_KIND.get(r.source, SoftwareKind.PROGRAM),
                    )
                ),
                None,
            )
        if record is not None:
            found[finding.pk] = record
    return found


REBOOT_HOLD_REASON = (
    "The fix is installed but the asset reports a restart pending: verified once an inventory "
    "without the pending restart shows it."
)


def _restart_pending(asset_ids: list[int], assets: dict[int, Asset]) -> set[int]:
    """The assets (of ``asset_ids``) that report a restart pending."""
    known = {pk for pk in asset_ids if pk in assets}
    pending = {pk for pk in known if assets[pk].reboot_pending}
    unknown = [pk for pk in asset_ids if pk not in known]
    if unknown:
        pending |= set(
            Asset.objects.filter(pk__in=unknown, reboot_pending=True).values_list("pk", flat=True)
        )
    return pending


def _hold_for_restart(
    held: list[tuple[Finding, str]], assets: dict[int, Asset], at: datetime
) -> None:
    """Findings whose fix waits for a restart stay open; the first time, with an event."""
    new = [(f, proof) for f, proof in held if f.awaiting_reboot_since is None]
    if not new:
        return
    Finding.objects.filter(pk__in=[f.pk for f, _ in new]).update(awaiting_reboot_since=at)
    events = []
    for finding, proof in new:
        asset = assets.get(finding.asset_id)
        events.append(
            {
                "kind": "finding.verification_held",
                "subject_type": "finding",
                "subject_id": finding.uuid,
                "actor": "system",
                "occurred_at": at,
                "payload": {
                    "patch": finding.patch_identifier,
                    "hostname": asset.hostname if asset is not None else "",
                    "proof": proof,
                    "reason": REBOOT_HOLD_REASON,
                },
            }
        )
    record_events(events)


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
    restarting = _restart_pending(asset_ids, assets)
    proven: list[tuple[Finding, str]] = []
    held: list[tuple[Finding, str]] = []
    released: list[int] = []
    for finding in outstanding:
        proof = _fix_evidence(
            finding,
            *inventories[finding.asset_id],
            satisfied.get(finding.asset_id),
            (proofs or {}).get(finding.asset_id),
        )
        if proof is not None and finding.asset_id in restarting:
            held.append((finding, proof))
        elif proof is not None:
            proven.append((finding, proof))
        elif finding.awaiting_reboot_since is not None:
            released.append(finding.pk)
    _hold_for_restart(held, assets, at)
    if released:
        Finding.objects.filter(pk__in=released).update(awaiting_reboot_since=None)
    if not proven:
        return counts
    Finding.objects.filter(pk__in=[f.pk for f, _ in proven]).update(
        state=FindingState.VERIFIED, verified_at=at
    )
    cited = os_records_for([f for f, _ in proven], at)
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
                    # The OS's own record of the install, where it wrote one down.
                    "os_record": (cited[finding.pk].citation() if finding.pk in cited else None),
                    "held_for_restart_since": (
                        finding.awaiting_reboot_since.isoformat()
                        if finding.awaiting_reboot_since
                        else None
                    ),
                },
            }
        )
    record_events(events)
    return counts
