"""From inventory to findings: advisory matching and reported pending updates, per asset.

``refresh_findings(asset_ids=…, at=…)`` runs in the client's schema, inside the ingest's
transaction (the ingest runs it last, through ``inventory.hooks``) and from the Celery task that
re-matches a whole client after the catalogue changed. For each asset:

* **Windows**: the MSRC product from the asset's OS fields (``windows_product_for``), its
  installed KBs (software rows of kind hotfix) → ``missing_windows_fixes``; KBs that a later
  installed cumulative update replaced (``satisfied_windows_kbs``) verify older findings.
* **Linux**: the OSV ecosystem of its release (Ubuntu ``Ubuntu:22.04:LTS``, Debian ``Debian:12``)
  over its deb packages → ``missing_package_fixes``.
* **Application packages** (Maven, PyPI, npm, NuGet, RubyGems, crates.io, Packagist, Go): an
  installed program, app or package whose name is a catalogue package name (for Maven also the
  artifact id, ``log4j-core`` for ``org.apache.logging.log4j:log4j-core``).
* **Third-party applications** (Windows programs, macOS apps, Homebrew packages): normalised to
  a CPE vendor and product (``catalogue.applications``: a curated mapping of the applications
  MSPs patch most, else an NVD product the publisher confirms) and compared with the NVD CPE
  version ranges ``import_nvd`` keeps → ``missing_application_fixes``;
* the asset's own **pending updates** (``findings_from_pending_updates``).

Each match becomes a ``MissingPatch`` and ``sync_findings_for_asset`` opens, re-tiers and verifies.
Catalogue reads are batched per call: one query per Windows product, one per Linux release and
one for application packages, then per asset only those whose software can match anything;
assets with nothing to match and no outstanding finding cost no query of their own.

Why a finding exists (its match, explained) is ``findings.explain``."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from catalogue.choices import Ecosystem
from catalogue.matching import (
    ApplicationMatch,
    MatchResult,
    missing_application_fixes,
    missing_package_fixes,
    missing_windows_fixes,
    release_filter,
    satisfied_windows_kbs,
    verified_application_fixes,
    windows_fixes_for,
    windows_product_for,
)
from catalogue.models import AdvisoryFix, CpeMatch
from catalogue.versions import normalise_ecosystem
from common.choices import OsFamily
from findings import hooks
from findings.choices import FindingOrigin, SeverityTier
from findings.models import Finding
from findings.services import (
    CLOSED_STATES,
    AssetMatches,
    MissingPatch,
    pending_patches_by_asset,
    sync_findings_for_assets,
)
from inventory.choices import SoftwareKind
from inventory.models import Asset, InstalledSoftware, PendingUpdate

__all__ = [
    "RefreshSummary",
    "refresh_findings",
    "refresh_after_ingest",
    "linux_ecosystem_for",
    "to_missing_patch",
    "client_asset_ids",
    "MATCH_SOURCE_NVD",
]


MATCH_SOURCE_NVD = "nvd"  # a third-party program inside NVD CPE version ranges


APP_ECOSYSTEMS = (
    Ecosystem.MAVEN,
    Ecosystem.PYPI,
    Ecosystem.NPM,
    Ecosystem.NUGET,
    Ecosystem.GEM,
    Ecosystem.CARGO,
    Ecosystem.COMPOSER,
    Ecosystem.GO,
)


APP_KINDS = (
    SoftwareKind.PROGRAM,
    SoftwareKind.APP,
    SoftwareKind.HOMEBREW,
    SoftwareKind.OTHER,
)


_ARCH = re.compile(r":[a-z0-9_]+$")


@dataclass
class RefreshSummary:
    assets: int = 0
    matched: int = 0
    opened: int = 0
    reopened: int = 0
    updated: int = 0
    verified: int = 0
    deployments_verified: int = 0
    by_asset: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {
            "assets": self.assets,
            "matched": self.matched,
            "opened": self.opened,
            "reopened": self.reopened,
            "updated": self.updated,
            "verified": self.verified,
            "deployments_verified": self.deployments_verified,
        }


_RPM_DISTROS = (
    ("red hat", "Red Hat"),
    ("rhel", "Red Hat"),
    ("rocky", "Rocky Linux"),
    ("almalinux", "AlmaLinux"),
    ("alma linux", "AlmaLinux"),
    ("centos", "CentOS"),
    ("oracle linux", "Oracle Linux"),
    ("fedora", "Fedora"),
)


PACKAGE_KINDS = {
    Ecosystem.UBUNTU: SoftwareKind.DEB,
    Ecosystem.DEBIAN: SoftwareKind.DEB,
    Ecosystem.RPM: SoftwareKind.RPM,
    Ecosystem.ALPINE: SoftwareKind.APK,
}


def linux_ecosystem_for(os_name: str, os_version: str) -> str | None:
    """OSV ecosystem of a Linux release: ``("Ubuntu", "22.04")`` → ``Ubuntu:22.04:LTS``,
    ``("Ubuntu", "14.04.6 LTS")`` → ``Ubuntu:14.04:LTS``, ``("Debian GNU/Linux", "12")`` →
    ``Debian:12``, ``("Rocky Linux", "9.3")`` → ``Rocky Linux:9``, ``("Alpine Linux",
    "3.18.4")`` → ``Alpine:v3.18``; None when unknown."""
    name = (os_name or "").lower()
    version = (os_version or "").strip()
    if "ubuntu" in name:
        m = re.match(r"(\d{2})\.(\d{2})", version) or re.search(r"(\d{2})\.(\d{2})", name)
        if not m:
            return None
        lts = int(m.group(1)) % 2 == 0 and m.group(2) == "04"
        return f"Ubuntu:{m.group(1)}.{m.group(2)}" + (":LTS" if lts else "")
    if "debian" in name:
        m = re.match(r"(\d+)", version) or re.search(r"\b(\d{1,2})\b", name)
        return f"Debian:{m.group(1)}" if m else None
    if "alpine" in name:
        m = re.match(r"v?(\d+)\.(\d+)", version)
        return f"Alpine:v{m.group(1)}.{m.group(2)}" if m else None
    for needle, family in _RPM_DISTROS:
        if needle in name:
            m = re.match(r"(\d+)", version) or re.search(r"\b(\d{1,2})(?:\.\d+)?\b", name)
            return f"{family}:{m.group(1)}" if m else None
    return None


THIRD_PARTY_KINDS = (
    SoftwareKind.PROGRAM,
    SoftwareKind.APP,
    SoftwareKind.HOMEBREW,
    SoftwareKind.DEB,  # third-party repositories: google-chrome-stable, zoom, teamviewer…
    SoftwareKind.RPM,
)


_FAMILY = {OsFamily.WINDOWS: "windows", OsFamily.MACOS: "macos", OsFamily.LINUX: "linux"}


def application_patch(match: ApplicationMatch) -> MissingPatch:
    """A third-party program inside NVD CPE ranges as a missing patch: ``<program>@<version
    leaving every range>``, verified once the inventory shows that version or a later one, or
    ``<program>@unfixed`` when NVD names no fixed version (verified once the program is outside
    every range of its CVEs, ``verified_application_fixes``). An open ``@unfixed`` finding moves
    onto the fixed version once NVD publishes one."""
    return MissingPatch(
        patch_identifier=match.patch_identifier[:200],
        package_name=match.package_name,
        installed_version=match.installed_version,
        fixed_version=match.fixed_version,
        advisory=None,
        cves=tuple(match.cves),
        vendor_severity=match.vendor_severity,
        reboot_required=False,
        origin=FindingOrigin.ADVISORY_MATCH,
        replaces=(f"{match.package_name}@unfixed"[:200],) if match.fixed_version else (),
    )


def host_build(asset: Asset) -> str:
    """The asset's fullest build text: ``10.0.22631.2715`` when a source reported the revision
    (UBR), else the build number alone."""
    for text in (asset.os_build, asset.os_version):
        if re.search(r"\d{4,5}\.\d+\s*$", text or ""):
            return text
    return asset.os_build or asset.os_version


def to_missing_patch(match: MatchResult, *, package_name: str | None = None) -> MissingPatch:
    """A catalogue match as the patch core's ``MissingPatch`` (origin advisory_match)."""
    severity = match.fix.severity or SeverityTier.UNKNOWN
    if severity == SeverityTier.UNKNOWN:
        severity = match.advisory.vendor_severity or SeverityTier.UNKNOWN
    name = package_name if package_name is not None else match.package_name
    identifier = match.patch_identifier
    if package_name is not None and match.fix.ecosystem != Ecosystem.WINDOWS:
        identifier = f"{match.package_name}@{match.fixed_version}"
    return MissingPatch(
        patch_identifier=identifier[:200],
        package_name=name,
        installed_version=match.installed_version,
        fixed_version=match.fixed_version,
        advisory=match.advisory,
        cves=tuple(match.cves),
        vendor_severity=severity,
        reboot_required=match.reboot_required,
        origin=FindingOrigin.ADVISORY_MATCH,
        replaces=tuple(match.rolls_up),
    )


def _app_key(ecosystem: str, package_name: str) -> set[str]:
    name = package_name.strip().lower()
    keys = {name}
    if ecosystem == Ecosystem.MAVEN and ":" in name:
        keys.add(name.rsplit(":", 1)[1])
    return keys


def refresh_findings(*, asset_ids: Iterable[int], at: datetime) -> RefreshSummary:
    """Match every given asset against the catalogue and its pending updates, then sync its
    findings (open, re-tier, verify). Runs in the current client's schema."""
    ids = sorted(set(asset_ids))
    summary = RefreshSummary()
    if not ids:
        return summary
    assets = list(
        Asset.objects.filter(pk__in=ids).only(
            "pk",
            "os_family",
            "os_name",
            "os_version",
            "os_build",
            "os_arch",
            "asset_class_id",
            "reboot_pending",
        )
    )
    with_pending = set(
        PendingUpdate.objects.filter(asset_id__in=ids).values_list("asset_id", flat=True)
    )
    with_outstanding = set(
        Finding.objects.filter(asset_id__in=ids)
        .exclude(state__in=CLOSED_STATES)
        .values_list("asset_id", flat=True)
    )
    has_windows_fixes = AdvisoryFix.objects.filter(ecosystem=Ecosystem.WINDOWS).exists()

    # --- what each asset could match ------------------------------------------------------
    products: dict[int, str] = {}
    product_cache: dict[tuple[str, str, str, str], str | None] = {}
    linux: dict[int, str] = {}
    for a in assets:
        if a.os_family == OsFamily.WINDOWS and has_windows_fixes:
            key = (a.os_name, a.os_version, a.os_build, a.os_arch)
            if key not in product_cache:
                product_cache[key] = windows_product_for(*key)
            if product_cache[key]:
                products[a.pk] = product_cache[key]
        elif a.os_family == OsFamily.LINUX:
            eco = linux_ecosystem_for(a.os_name, a.os_version)
            if eco:
                linux[a.pk] = eco

    fixes_by_product = {p: windows_fixes_for(p) for p in set(products.values())}
    fixes_by_product = {p: f for p, f in fixes_by_product.items() if f}
    linux_names: dict[str, set[str]] = {}
    for eco in set(linux.values()):
        linux_names[eco] = _linux_package_names(eco)
    app_names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for eco, name in (
        AdvisoryFix.objects.filter(ecosystem__in=APP_ECOSYSTEMS)
        .values_list("ecosystem", "package_name")
        .distinct()
    ):
        for key in _app_key(eco, name):
            app_names[key].append((eco, name))

    wanted_kinds = set()
    if fixes_by_product:
        wanted_kinds.add(SoftwareKind.HOTFIX)
    for eco, names in linux_names.items():
        if names:
            wanted_kinds.add(PACKAGE_KINDS.get(normalise_ecosystem(eco), SoftwareKind.DEB))
    if app_names:
        wanted_kinds.update(APP_KINDS)
    has_cpe = CpeMatch.objects.filter(part="a").exists()
    if has_cpe:
        wanted_kinds.update(THIRD_PARTY_KINDS)
    software: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    programs: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
    if wanted_kinds:
        for asset_id, kind, name, version, vendor in InstalledSoftware.objects.filter(
            asset_id__in=ids, kind__in=wanted_kinds
        ).values_list("asset_id", "kind", "name", "version", "vendor"):
            software[asset_id].append((kind, name, version))
            if has_cpe and kind in THIRD_PARTY_KINDS and version:
                programs[asset_id].append((kind, name, version, vendor))

    # Outstanding findings from NVD CPE ranges: a later inventory may prove them fixed although
    # no program of their own name shows it (Java 8 Update 381 → Update 391).
    app_findings: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)
    if has_cpe and with_outstanding & set(programs):
        for asset_id, patch, cves in (
            Finding.objects.filter(
                asset_id__in=with_outstanding & set(programs),
                advisory__isnull=True,
                origin=FindingOrigin.ADVISORY_MATCH,
            )
            .exclude(state__in=CLOSED_STATES)
            .values_list("asset_id", "patch_identifier", "cves")
        ):
            if cves:
                app_findings[asset_id].append((patch, list(cves)))

    # --- per asset ----------------------------------------------------------------------------
    pending = pending_patches_by_asset(sorted(with_pending)) if with_pending else {}
    items: list[AssetMatches] = []
    for a in assets:
        rows = software.get(a.pk, [])
        matches: list[MissingPatch] = []
        satisfied: set[str] | None = None
        product = products.get(a.pk)
        if product in fixes_by_product:
            kbs = {name.strip().upper() for kind, name, _ in rows if kind == SoftwareKind.HOTFIX}
            fixes = fixes_by_product[product]
            build = host_build(a)
            matches += [
                to_missing_patch(m) for m in missing_windows_fixes(product, kbs, build, fixes=fixes)
            ]
            satisfied = satisfied_windows_kbs(product, kbs, build, fixes=fixes)
        eco = linux.get(a.pk)
        if eco and linux_names.get(eco):
            names = linux_names[eco]
            wanted = PACKAGE_KINDS.get(normalise_ecosystem(eco), SoftwareKind.DEB)
            packages = [
                (name, version)
                for kind, name, version in rows
                if kind == wanted and _ARCH.sub("", name) in names
            ]
            if packages:
                matches += [to_missing_patch(m) for m in missing_package_fixes(eco, packages)]
        if app_names:
            matches += _app_matches(rows, app_names)
        if programs.get(a.pk):
            taken = {m.patch_identifier for m in matches}
            matches += [
                application_patch(m)
                for m in missing_application_fixes(programs[a.pk], _FAMILY.get(a.os_family, ""))
                if m.patch_identifier not in taken
            ]
        proven = None
        if app_findings.get(a.pk):
            proven = verified_application_fixes(
                programs[a.pk], _FAMILY.get(a.os_family, ""), app_findings[a.pk]
            )
        matches += pending.get(a.pk, [])
        if matches or a.pk in with_outstanding:
            items.append(
                AssetMatches(asset=a, matches=matches, satisfied_kbs=satisfied, proven=proven)
            )
    summary.assets = len(assets)
    for pk, result in sync_findings_for_assets(items=items, at=at).items():
        summary.opened += len(result.opened)
        summary.reopened += result.reopened
        summary.updated += result.updated
        summary.verified += result.verified
        summary.by_asset[pk] = result.as_dict()
    summary.matched = sum(len(i.matches) for i in items)
    if summary.verified:
        # The deployments behind them (rings, through findings.hooks).
        summary.deployments_verified = hooks.findings_verified(
            asset_ids=[pk for pk, r in summary.by_asset.items() if r["verified"]], at=at
        )
    return summary


def refresh_after_ingest(*, asset_ids: Iterable[int], at: datetime) -> dict[str, int]:
    """``inventory.hooks.on_inventory_synced``: re-match what an ingest recorded; the counts
    its summary reports."""
    refreshed = refresh_findings(asset_ids=asset_ids, at=at)
    return {
        "findings_opened": refreshed.opened + refreshed.reopened,
        "findings_verified": refreshed.verified,
    }


def _linux_package_names(ecosystem: str) -> set[str]:
    """Package and binary names the catalogue has fixes for in one Linux release (one query)."""
    qs = AdvisoryFix.objects.filter(
        ecosystem=normalise_ecosystem(ecosystem), advisory__withdrawn_at__isnull=True
    )
    releases = release_filter(ecosystem)
    if releases is not None:
        qs = qs.filter(release__in=releases)
    names: set[str] = set()
    for name, binaries in qs.values_list("package_name", "binaries"):
        names.add(name)
        names.update(binaries or ())
    return names


def _app_matches(
    rows: list[tuple[str, str, str]], app_names: dict[str, list[tuple[str, str]]]
) -> list[MissingPatch]:
    out: list[MissingPatch] = []
    seen: set[str] = set()
    for kind, name, version in rows:
        if kind not in APP_KINDS or not version:
            continue
        for eco, package in app_names.get(name.strip().lower(), ()):
            for m in missing_package_fixes(eco, [(package, version)]):
                patch = to_missing_patch(m, package_name=name)
                if patch.patch_identifier not in seen:
                    seen.add(patch.patch_identifier)
                    out.append(patch)
    return out


def client_asset_ids() -> list[int]:
    """Every asset of the current client."""
    return list(Asset.objects.order_by("pk").values_list("pk", flat=True))
