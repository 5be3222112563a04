"""Why a finding exists, recomputed from the catalogue and the inventory: its match (source, kind,
what was matched, a summary) for lists, and for the detail page and API the product, build,
supersedence and servicing stack of a Windows update, the CPE ranges of a program, the
advisory of a package, with a remediation sentence."""

from __future__ import annotations

from typing import Any

from catalogue.choices import AdvisorySource
from catalogue.matching import (
    missing_application_fixes,
    missing_windows_fixes,
    release_filter,
    update_line,
    windows_fixes_for,
    windows_product_for,
)
from catalogue.models import AdvisoryFix, CpeMatch
from findings.choices import FindingOrigin
from findings.models import Finding
from findings.pipeline import (
    _ARCH,
    _FAMILY,
    MATCH_SOURCE_NVD,
    THIRD_PARTY_KINDS,
    host_build,
    linux_ecosystem_for,
)
from inventory.choices import SoftwareKind
from inventory.models import InstalledSoftware, PendingUpdate

__all__ = [
    "explain_finding",
    "match_brief",
    "match_source",
]


_SOURCE_LABELS = {
    **dict(AdvisorySource.choices),
    MATCH_SOURCE_NVD: "NVD CPE ranges",
}


def match_source(finding: Finding) -> str:
    """Where a finding's match came from: the advisory's source (``msrc``, ``ubuntu``,
    ``debian``, ``osv``, ``ghsa``, ``redhat``…), ``nvd`` for a third-party program inside NVD
    CPE ranges, ``device`` for an update the device itself reported pending."""
    if finding.origin == FindingOrigin.PENDING_UPDATE:
        return AdvisorySource.DEVICE
    if finding.advisory_id is None:
        return MATCH_SOURCE_NVD
    return finding.advisory.source


def match_brief(finding: Finding) -> dict[str, Any]:
    """The finding's match from its own fields, without reading the catalogue (list pages and
    API lists): source, kind, what was matched and a one-line reason."""
    source = match_source(finding)
    if source == AdvisorySource.DEVICE:
        kind = "pending_update"
    elif source == AdvisorySource.MSRC:
        kind = "windows"
    elif source == MATCH_SOURCE_NVD:
        kind = "application"
    else:
        kind = "package"
    return {
        "source": source,
        "source_label": _SOURCE_LABELS.get(source, source),
        "kind": kind,
        "advisory": finding.advisory.identifier if finding.advisory_id else None,
        "matched": finding.package_name or finding.asset.os_name,
        "installed_version": finding.installed_version,
        "fixed_version": finding.fixed_version,
        "no_fixed_version": kind == "application" and not finding.fixed_version,
        "summary": _brief_summary(finding, kind),
        "detailed": False,
    }


def _brief_summary(finding: Finding, kind: str) -> str:
    name, installed, fixed = finding.package_name, finding.installed_version, finding.fixed_version
    if kind == "windows":
        return f"{finding.patch_identifier} (build {fixed or 'unknown'}) is missing on this host"
    if kind == "pending_update":
        return f"The device reports {name or finding.patch_identifier} pending" + (
            f": {installed} → {fixed}" if installed or fixed else ""
        )
    if kind == "application":
        if not fixed:
            return f"{name} {installed} lies in NVD CPE ranges; no fixed version published"
        return f"{name} {installed} lies in NVD CPE ranges; fixed in {fixed}"
    advisory = finding.advisory.identifier if finding.advisory_id else ""
    return f"{name} {installed} is older than {fixed}, the fix of {advisory}".strip()


def explain_finding(finding: Finding) -> dict[str, Any]:
    """Why the catalogue proposes this finding's patch, recomputed from the catalogue and the
    asset's inventory, with a ``remediation`` sentence. Every finding gets one; its ``kind``
    says which fields it carries:

    * ``windows`` (MSRC): the exact product, the build the update brings, what it supersedes
      and rolls up, the servicing-stack update to install first, the newest update installed;
    * ``application`` (NVD CPE ranges): the program, the CPE it was identified as and by which
      rule, the version compared, the ranges containing it, the fixed version or that none is
      published;
    * ``package`` (OSV, USN, DSA, GHSA…): the advisory, its ecosystem and release, the fixed
      version and the affected ranges;
    * ``pending_update``: what the device reported (source, versions, advisory).

    ``detailed`` is False when the current catalogue or inventory no longer yields the match
    (a verified finding, a program since removed): the fields then come from the finding."""
    brief = match_brief(finding)
    kind = brief["kind"]
    detail: dict[str, Any] | None = None
    if kind == "windows":
        detail = _explain_windows(finding)
    elif kind == "application":
        detail = _explain_application(finding)
    elif kind == "package":
        detail = _explain_package(finding)
    else:
        detail = _explain_pending(finding)
    out = dict(brief)
    if detail:
        out.update(detail)
        out["detailed"] = True
    out.setdefault("remediation", _default_remediation(finding, kind))
    out["summary"] = _summary(out) or brief["summary"]
    return out


def _default_remediation(finding: Finding, kind: str) -> str:
    if kind == "windows":
        return f"Install {finding.patch_identifier}."
    if kind == "application" and not finding.fixed_version:
        return "No fixed version published."
    if finding.fixed_version:
        return f"Update {finding.package_name} to {finding.fixed_version} or later."
    return "Install the update."


def _summary(why: dict[str, Any]) -> str:
    kind = why["kind"]
    if kind == "windows" and why.get("product"):
        text = f"Newest {why.get('subtype') or 'update'} for {why['product']}"
        if why.get("fixed_build"):
            text += f", bringing build {why['fixed_build']}"
        if why.get("supersedes"):
            text += f"; supersedes {', '.join(why['supersedes'])}"
        return text
    if kind == "application" and why.get("cpe"):
        ranges = "; ".join(sorted({r["range"] for r in why.get("ranges", [])}))
        return (
            f"{why.get('rule')}: {why['cpe']} version {why.get('compared_version')} "
            f"is in NVD's affected range {ranges}".strip()
        )
    if kind == "package" and why.get("ecosystem"):
        return (
            f"{why['matched']} {why['installed_version']} is older than {why['fixed_version']} "
            f"({why['ecosystem']} version rules), the fix of {why['advisory']} for "
            f"{why.get('release') or why.get('product')}"
        )
    return ""


def _explain_windows(finding: Finding) -> dict[str, Any] | None:
    asset = finding.asset
    product = windows_product_for(asset.os_name, asset.os_version, asset.os_build, asset.os_arch)
    if not product:
        return None
    fixes = windows_fixes_for(product)
    kbs = {
        n.strip().upper()
        for n in InstalledSoftware.objects.filter(
            asset=asset, kind=SoftwareKind.HOTFIX
        ).values_list("name", flat=True)
    }
    for match in missing_windows_fixes(product, kbs, host_build(asset), fixes=fixes):
        if match.advisory.identifier == finding.patch_identifier:
            why = dict(match.reason, no_longer_offered=False)
            first = why.get("prerequisite")
            why["remediation"] = (
                (
                    f"Install servicing stack update {first['kb']} first, then "
                    if first
                    else "Install "
                )
                + f"{finding.patch_identifier}"
                + (f" (brings build {why['fixed_build']})." if why.get("fixed_build") else ".")
            )
            return why
    fix = next((f for f in fixes if f.advisory_id == finding.advisory_id), None)
    if fix is None:
        return None
    return {
        "product": product,
        "line": update_line(fix),
        "subtype": fix.subtype,
        "fixed_build": fix.fixed_version,
        "release_date": fix.advisory.release_date.isoformat()
        if fix.advisory.release_date
        else None,
        "document": fix.advisory.document,
        "supersedes": sorted(fix.supersedes),
        "rolls_up": [],
        "host_build": host_build(asset),
        "latest_installed": None,
        "latest_installed_build": None,
        "prerequisite": None,
        "no_longer_offered": True,
        "remediation": (
            f"A newer update of this line is offered or installed; {finding.patch_identifier} "
            "is verified once that is installed."
        ),
    }


def _explain_application(finding: Finding) -> dict[str, Any] | None:
    asset = finding.asset
    family = _FAMILY.get(asset.os_family, "")
    if finding.package_name:
        rows = [
            (kind, name, version, vendor)
            for kind, name, version, vendor in InstalledSoftware.objects.filter(
                asset=asset, kind__in=THIRD_PARTY_KINDS, name=finding.package_name
            ).values_list("kind", "name", "version", "vendor")
            if version
        ]
        for match in missing_application_fixes(rows, family):
            return dict(match.reason)
    # No longer matched (fixed, removed, or the catalogue changed): what NVD says of its CVEs.
    ranges = list(
        CpeMatch.objects.filter(part="a", cve_id__in=list(finding.cves)).order_by("cve_id", "pk")[
            :25
        ]
    )
    if not ranges:
        return None
    cpes = sorted({f"cpe:2.3:a:{r.vendor}:{r.product}" for r in ranges})
    return {
        "program": finding.package_name,
        "cpe": cpes[0] if len(cpes) == 1 else ", ".join(cpes),
        "rule": f'"{finding.package_name}" (no longer matched by the current inventory)',
        "compared_version": finding.installed_version,
        "ranges": [
            {"cve": r.cve_id, "range": r.range_text(), "criteria": r.criteria} for r in ranges
        ],
        "fixed_version": finding.fixed_version,
        "no_fixed_version": not finding.fixed_version,
        "no_longer_matched": True,
    }


def _explain_package(finding: Finding) -> dict[str, Any] | None:
    asset = finding.asset
    eco = linux_ecosystem_for(asset.os_name, asset.os_version) if asset.os_family == "linux" else ""
    name = _ARCH.sub("", finding.package_name or "")
    fixes = list(AdvisoryFix.objects.filter(advisory_id=finding.advisory_id).order_by("pk"))
    if not fixes:
        return None
    releases = release_filter(eco) if eco else None
    mine = [f for f in fixes if name and (f.package_name == name or name in (f.binaries or []))]
    if releases is not None:
        mine = [f for f in mine if f.release in releases] or mine
    fix = next(
        (f for f in mine if f.fixed_version == finding.fixed_version), mine[0] if mine else None
    )
    if fix is None:
        return None
    return {
        "ecosystem": fix.get_ecosystem_display(),
        "product": fix.product,
        "release": fix.release,
        "package": fix.package_name,
        "binary": name if name != fix.package_name else "",
        "affected_ranges": fix.affected_ranges or [],
        "withdrawn": finding.advisory.withdrawn_at is not None,
        "remediation": (
            f"Upgrade {finding.package_name} to {finding.fixed_version} or later "
            f"({finding.advisory.identifier})."
        ),
    }


def _explain_pending(finding: Finding) -> dict[str, Any] | None:
    update = (
        PendingUpdate.objects.filter(asset=finding.asset, name=finding.package_name)
        .order_by("pk")
        .first()
    )
    if update is None:
        return None
    return {
        "reported_source": update.source,
        "reported_advisory": update.advisory,
        "reported_at": update.reported_at.isoformat(),
        "reboot_required": update.reboot_required,
        "remediation": (
            f"Install the pending {update.get_source_display()} update "
            f"{update.advisory or update.name}"
            + (f" ({update.available_version})." if update.available_version else ".")
        ),
    }
