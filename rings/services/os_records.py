"""Deployments checked against the operating system's own records: a deployment an agent job
or a connector reported installed, on an asset whose OS install records have since arrived
covering that time, is confirmed when the OS wrote the install down and flagged
(``deployment.unconfirmed``) when it did not, or wrote down a failure. Registered in
``inventory.hooks.on_install_records_received`` by ``RingsConfig.ready``."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Q

from evidence.services import record_event
from findings.models import Finding
from findings.verification import kb_of, os_records_for
from inventory.choices import InstallOutcome
from inventory.models import InstallRecordCoverage, OsInstallRecord
from rings.choices import DeploymentStatus
from rings.models import DeploymentResult, Rollout
from rings.services.membership import SYSTEM

__all__ = ["check_deployments_against_os_records", "RECORD_SLACK"]

# An install is written down before the agent reports it (and clocks differ): a record this
# long before the deployment's attempt still belongs to it.
RECORD_SLACK = timedelta(hours=12)


def _checkable(finding: Finding) -> bool:
    return bool(kb_of(finding) or (finding.package_name and finding.fixed_version))


def _failures(
    asset_id: int, findings: list[Finding], start: datetime, through: datetime
) -> list[OsInstallRecord]:
    kbs = [kb for f in findings if (kb := kb_of(f))]
    names = [f.package_name for f in findings if f.package_name and not kb_of(f)]
    query = Q(kb__in=kbs) | Q(name__in=names) if names else Q(kb__in=kbs)
    return list(
        OsInstallRecord.objects.filter(
            query,
            asset_id=asset_id,
            outcome=InstallOutcome.FAILED,
            occurred_at__gte=start,
            occurred_at__lte=through,
        ).order_by("occurred_at", "pk")[:20]
    )


def check_deployments_against_os_records(*, asset_ids: list[int], at: datetime) -> int:
    """Check every reported deployment of these assets not checked yet whose time the assets'
    OS records now cover; returns how many were flagged. One event per flagged deployment."""
    coverage = dict(
        InstallRecordCoverage.objects.filter(asset_id__in=asset_ids).values_list(
            "asset_id", "through"
        )
    )
    if not coverage:
        return 0
    results = [
        r
        for r in DeploymentResult.objects.filter(
            asset_id__in=list(coverage),
            status__in=(DeploymentStatus.DEPLOYED, DeploymentStatus.VERIFIED),
            deployed_at__isnull=False,
            os_records_checked_at__isnull=True,
        )
        .select_related("wave__rollout", "wave__ring", "asset")
        .select_for_update(of=("self",))
        .order_by("pk")
        if r.deployed_at <= coverage[r.asset_id]
    ]
    if not results:
        return 0
    carried = _carried(results)
    flagged = 0
    confirmed: list[int] = []
    missing_ids: list[int] = []
    for result in results:
        through = coverage[result.asset_id]
        start = (result.attempted_at or result.deployed_at) - RECORD_SLACK
        findings = [f for f in carried[(result.wave.rollout_id, result.asset_id)] if _checkable(f)]
        if not findings:
            confirmed.append(result.pk)  # nothing the OS records could show: not a flag
            continue
        records = os_records_for(findings, through)
        shown = {pk: r for pk, r in records.items() if r.occurred_at >= start}
        missing = [f for f in findings if f.pk not in shown]
        if not missing:
            confirmed.append(result.pk)
            continue
        failures = _failures(result.asset_id, missing, start, through)
        missing_ids.append(result.pk)
        flagged += 1
        wave = result.wave
        record_event(
            kind="deployment.unconfirmed",
            subject_type="asset",
            subject_id=result.asset.uuid,
            actor=SYSTEM,
            payload={
                "rollout": str(wave.rollout.uuid),
                "wave": str(wave.uuid),
                "ring": wave.ring.key,
                "hostname": result.asset.hostname,
                "deployed_at": result.deployed_at.isoformat(),
                "records_through": through.isoformat(),
                "patches": sorted(f.patch_identifier for f in missing),
                "findings": sorted(str(f.uuid) for f in missing),
                "os_failures": [r.citation() for r in failures],
            },
            occurred_at=at,
        )
    if confirmed:
        DeploymentResult.objects.filter(pk__in=confirmed).update(os_records_checked_at=at)
    if missing_ids:
        DeploymentResult.objects.filter(pk__in=missing_ids).update(
            os_records_checked_at=at, missing_os_record=True
        )
    return flagged


def _carried(results: list[DeploymentResult]) -> dict[tuple[int, int], list[Finding]]:
    """The findings each result's rollout carries for its asset, by (rollout id, asset id)."""
    pairs = Rollout.findings.through.objects.filter(
        rollout_id__in={r.wave.rollout_id for r in results},
        finding__asset_id__in={r.asset_id for r in results},
    ).values_list("rollout_id", "finding_id")
    by_finding: dict[int, list[int]] = defaultdict(list)
    for rollout_id, finding_id in pairs:
        by_finding[finding_id].append(rollout_id)
    out: dict[tuple[int, int], list[Finding]] = defaultdict(list)
    for finding in Finding.objects.filter(pk__in=list(by_finding)).select_related("advisory"):
        for rollout_id in by_finding[finding.pk]:
            out[(rollout_id, finding.asset_id)].append(finding)
    return out
