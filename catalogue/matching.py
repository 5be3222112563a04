"""Matching primitives for findings: which catalogue fixes a host is missing, and the inputs of
its tier and risk score.

Windows hosts are matched through MSRC's own product names and FixedBuild values, never through
NVD CPE ranges. NVD's configurations for Windows 11 23H2 carry ``versionEndExcluding
10.0.22621.2715`` (the 22H2 build prefix) while MSRC gives ``FixedBuild 10.0.22631.2715``: a
matcher comparing a 23H2 host's build 22631.x to the NVD bound would call it fixed. Here the host
is mapped to the MSRC product ("Windows 11 Version 23H2 for x64-based Systems"), and a build is
only compared with a FixedBuild of the same major build number (22631 with 22631).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q

from .choices import Ecosystem, SeverityTier
from .models import Advisory, AdvisoryFix, EpssScore, KevEntry, Vulnerability
from .versions import (
    InvalidVersion,
    fixed_version_for,
    is_affected,
    normalise_ecosystem,
)

__all__ = [
    "MatchResult",
    "windows_product_for",
    "missing_windows_fixes",
    "windows_fixes_for",
    "satisfied_windows_kbs",
    "missing_package_fixes",
    "severity_tier",
    "cve_signals",
    "order_by_epss",
]

log = logging.getLogger(__name__)

_RANK = {
    SeverityTier.UNKNOWN: 0,
    SeverityTier.LOW: 1,
    SeverityTier.MEDIUM: 2,
    SeverityTier.HIGH: 3,
    SeverityTier.CRITICAL: 4,
}


@dataclass
class MatchResult:
    """One fix a host lacks. ``cves`` are ordered by EPSS (highest first)."""

    advisory: Advisory
    fix: AdvisoryFix
    cves: list[str]
    fixed_version: str
    reboot_required: bool
    exploited_cves: list[str] = field(default_factory=list)
    package_name: str = ""
    installed_version: str = ""
    rolls_up: list[str] = field(default_factory=list)

    @property
    def patch_identifier(self) -> str:
        """What a finding is keyed by: the KB, or ``package@fixed-version`` for packages."""
        if self.fix.ecosystem == Ecosystem.WINDOWS:
            return self.advisory.identifier
        return f"{self.package_name}@{self.fixed_version}"


# --- Windows product mapping ------------------------------------------------------------------

_WIN10 = {
    10240: "",
    10586: "1511",
    14393: "1607",
    15063: "1703",
    16299: "1709",
    17134: "1803",
    17763: "1809",
    18362: "1903",
    18363: "1909",
    19041: "2004",
    19042: "20H2",
    19043: "21H1",
    19044: "21H2",
    19045: "22H2",
}
_WIN11 = {22000: "21H2", 22621: "22H2", 22631: "23H2", 26100: "24H2"}
_SERVER = {
    9200: "Windows Server 2012",
    9600: "Windows Server 2012 R2",
    14393: "Windows Server 2016",
    17763: "Windows Server 2019",
    20348: "Windows Server 2022",
    25398: "Windows Server 2022, 23H2 Edition",
    26100: "Windows Server 2025",
}


def _build_number(*texts: str | None) -> int | None:
    for text in texts:
        if not text:
            continue
        for pattern in (
            r"\b10\.0\.(\d{4,5})",
            r"Build (\d{4,5})",
            r"\b6\.\d\.(\d{4})",
            r"^(\d{4,5})",
        ):
            m = re.search(pattern, text.strip())
            if m:
                return int(m.group(1))
    return None


def _arch_suffix(arch: str | None) -> str:
    a = (arch or "").lower()
    if "arm" in a or "aarch64" in a:
        return "ARM64-based Systems"
    if any(t in a for t in ("x86_64", "amd64", "x64", "64-bit", "64 bit")) or not a:
        return "x64-based Systems"
    if any(t in a for t in ("x86", "32", "i386", "i686")):
        return "32-bit Systems"
    return "x64-based Systems"


def _canonical(name: str) -> str:
    """The spelling MSRC uses in the catalogue (it writes "Windows 11 version 21H2"), if known."""
    stored = (
        AdvisoryFix.objects.filter(product__iexact=name, ecosystem=Ecosystem.WINDOWS)
        .values_list("product", flat=True)
        .first()
    )
    return stored or name


def windows_product_for(
    os_name: str, os_version: str, os_build: str, arch: str | None
) -> str | None:
    """MSRC product name for a Windows OS as systeminfo or osquery reports it.

    ``("Microsoft Windows 11 Enterprise", "10.0.22631 N/A Build 22631", "22631", "x64-based PC")``
    → ``"Windows 11 Version 23H2 for x64-based Systems"``. None when it is not a Windows release the
    mapping knows (its findings then come only from the device's own pending updates).
    """
    name = (os_name or "").lower()
    if "windows" not in name:
        return None
    build = _build_number(os_build, os_version)
    if build is None:
        return None
    if "server" in name:
        product = _SERVER.get(build)
        if product is None:
            return None
        if "server core" in name or "core installation" in name:
            product += " (Server Core installation)"
        return _canonical(product)
    suffix = _arch_suffix(arch)
    if "windows 11" in name or build >= 22000:
        release = _WIN11.get(build)
        if release is None:
            return None
        return _canonical(f"Windows 11 Version {release} for {suffix}")
    if "windows 10" in name or build in _WIN10:
        if build not in _WIN10:
            return None
        release = _WIN10[build]
        product = (
            f"Windows 10 Version {release} for {suffix}" if release else f"Windows 10 for {suffix}"
        )
        return _canonical(product)
    if build == 7601:
        return _canonical(f"Windows 7 for {suffix} Service Pack 1")
    if build == 9600:
        return _canonical(f"Windows 8.1 for {suffix}")
    return None


# --- Windows fixes ------------------------------------------------------------------------------


def _kb(value: str) -> str | None:
    m = re.search(r"(\d{6,8})", value or "")
    return f"KB{m.group(1)}" if m else None


def _split_build(text: str | None) -> tuple[int, int | None] | None:
    """``10.0.22631.2715`` → (22631, 2715); ``22631`` → (22631, None)."""
    if not text:
        return None
    m = re.search(r"(?:\d+\.\d+\.)?(\d{4,5})(?:\.(\d+))?", text.strip())
    if not m:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)


def _build_covers(host: tuple[int, int | None] | None, fixed: str) -> bool:
    target = _split_build(fixed)
    if host is None or target is None or host[1] is None or target[1] is None:
        return False
    # Only the same major build is comparable (the 22621-vs-22631 guard).
    return host[0] == target[0] and host[1] >= target[1]


def _superseded_closure(installed: set[str], edges: dict[str, set[str]]) -> set[str]:
    covered, stack = set(installed), list(installed)
    while stack:
        for older in edges.get(stack.pop(), ()):
            if older not in covered:
                covered.add(older)
                stack.append(older)
    return covered


def _stream(fix: AdvisoryFix) -> str:
    """Updates that replace each other: the OS cumulative line (Security Update, Monthly Rollup,
    Security Only, hotpatches) and, beside it, Internet Explorer's cumulative line."""
    return "ie" if "ie cumulative" in fix.subtype.lower() else "os"


def _build_key(fix: AdvisoryFix) -> tuple[int, int]:
    parsed = _split_build(fix.fixed_version)
    return (parsed[0], parsed[1] or 0) if parsed else (0, 0)


def windows_fixes_for(product: str) -> list[AdvisoryFix]:
    """Every catalogue fix for ``product``, oldest first (one query; reusable across hosts)."""
    return list(
        AdvisoryFix.objects.filter(product__iexact=product, ecosystem=Ecosystem.WINDOWS)
        .select_related("advisory")
        .order_by("advisory__release_date", "advisory__identifier")
    )


def _windows_coverage(fixes: list[AdvisoryFix], installed_kbs: set[str], os_build: str | None):
    installed = {kb for kb in (_kb(k) for k in installed_kbs) if kb}
    edges: dict[str, set[str]] = {}
    for fix in fixes:
        edges.setdefault(fix.advisory.identifier, set()).update(fix.supersedes)
    covered = _superseded_closure(installed, edges)
    host_build = _split_build(os_build)
    installed_fixes = [f for f in fixes if f.advisory.identifier in installed]
    installed_documents = {
        (f.advisory.document, _stream(f)) for f in installed_fixes if f.advisory.document
    }
    best_installed = max(
        (_build_key(f) for f in installed_fixes if not f.is_hotpatch and _stream(f) == "os"),
        default=(0, 0),
    )

    def satisfied(fix: AdvisoryFix) -> bool:
        kb = fix.advisory.identifier
        key = _build_key(fix)
        is_os = _stream(fix) == "os"
        return bool(
            kb in covered
            or (fix.advisory.document, _stream(fix)) in installed_documents
            or (is_os and key[0] == best_installed[0] and key[1] and best_installed[1] >= key[1])
            or (is_os and _build_covers(host_build, fix.fixed_version))
        )

    return satisfied, edges


def satisfied_windows_kbs(
    product: str,
    installed_kbs: set[str],
    os_build: str | None,
    *,
    fixes: list[AdvisoryFix] | None = None,
) -> set[str]:
    """KBs of ``product`` the host counts as having: installed, or replaced by what is installed
    (supersedence, a higher FixedBuild of the same line, the host's own build). What verifies a
    finding for an older cumulative update once a later one is installed."""
    fixes = windows_fixes_for(product) if fixes is None else fixes
    satisfied, _ = _windows_coverage(fixes, installed_kbs, os_build)
    return {f.advisory.identifier for f in fixes if satisfied(f)}


def missing_windows_fixes(
    product: str,
    installed_kbs: set[str],
    os_build: str | None,
    *,
    fixes: list[AdvisoryFix] | None = None,
) -> list[MatchResult]:
    """The latest cumulative fix(es) for ``product`` that the host lacks.

    A fix counts as installed when its KB is installed, when an installed KB supersedes it
    (transitively, through MSRC's Supercedence), when an installed KB fixes the same product at a
    higher FixedBuild, when the host's full build (``10.0.22631.2715``) reaches its FixedBuild,
    or when another KB of the same monthly document and update line is installed (Monthly Rollup
    vs Security Only, hotpatch vs cumulative; Internet Explorer's cumulative update is its own
    line beside the OS one). Missing fixes chained by supersedence or FixedBuild
    collapse into the newest one, whose ``cves`` then include the older ones' (``rolls_up`` lists
    those KBs). Hotpatch KBs are never proposed; the cumulative update is.
    """
    fixes = windows_fixes_for(product) if fixes is None else fixes
    if not fixes:
        return []
    satisfied, edges = _windows_coverage(fixes, installed_kbs, os_build)
    missing = [f for f in fixes if not f.is_hotpatch and not satisfied(f)]
    # One candidate per monthly document: the cumulative update over "Security Only".
    by_document: dict[tuple[str, str], AdvisoryFix] = {}
    for fix in missing:
        doc = (fix.advisory.document or fix.advisory.identifier, _stream(fix))
        current = by_document.get(doc)
        if current is None or (
            "only" in current.subtype.lower() and "only" not in fix.subtype.lower()
        ):
            by_document[doc] = fix
    candidates = sorted(
        by_document.values(), key=lambda f: (_build_key(f), f.advisory.release_date or 0)
    )
    # Roll older ones into the newest that supersedes them (or carries a higher build).
    results: list[MatchResult] = []
    remaining = list(candidates)
    while remaining:
        head = remaining.pop()
        head_closure = _superseded_closure({head.advisory.identifier}, edges)
        rolled = [
            f
            for f in remaining
            if _stream(f) == _stream(head)
            and (
                f.advisory.identifier in head_closure
                or (
                    _stream(f) == "os"
                    and _build_key(f)[0] == _build_key(head)[0]
                    and _build_key(f) < _build_key(head)
                )
            )
        ]
        remaining = [f for f in remaining if f not in rolled]
        cves = set(head.cves) | {c for f in rolled for c in f.cves}
        exploited = set(head.exploited_cves) | {c for f in rolled for c in f.exploited_cves}
        ordered = order_by_epss(cves)
        results.append(
            MatchResult(
                advisory=head.advisory,
                fix=head,
                cves=ordered,
                fixed_version=head.fixed_version,
                reboot_required=bool(head.reboot_required),
                exploited_cves=[c for c in ordered if c in exploited],
                rolls_up=sorted(f.advisory.identifier for f in rolled),
            )
        )
    return results


# --- package fixes -----------------------------------------------------------------------------

_ARCH = re.compile(r":(amd64|i386|arm64|armhf|armel|all|ppc64el|s390x|x86_64|noarch|aarch64)$")


def _release_filter(ecosystem: str) -> str | None:
    parts = [p for p in ecosystem.split(":")[1:] if p]
    if not parts:
        return None
    from .importers.debian import release_number
    from .importers.osv import release_of

    release = release_of(ecosystem)
    return release_number(release) if normalise_ecosystem(ecosystem) == "debian" else release


def missing_package_fixes(ecosystem: str, packages: list[tuple[str, str]]) -> list[MatchResult]:
    """Fixes whose OSV ranges (or fixed version) still contain an installed package version.

    ``ecosystem`` is an OSV ecosystem: ``Ubuntu:22.04:LTS``, ``Debian:12`` (or ``Debian:bookworm``),
    ``Maven``, ``PyPI``, ``npm``…; without a release part every release's fixes are considered.
    Package names may carry a dpkg/rpm arch suffix (``libssl3:amd64``); Ubuntu binary package
    names match through the advisory's binaries list. Versions that do not parse are skipped.
    """
    eco = normalise_ecosystem(ecosystem)
    release = _release_filter(ecosystem)
    installed: dict[str, str] = {}
    for name, version in packages:
        installed[_ARCH.sub("", name.strip())] = version
    if not installed:
        return []
    names = list(installed)
    qs = AdvisoryFix.objects.filter(ecosystem=eco).filter(
        Q(package_name__in=names) | Q(binaries__overlap=names)
    )
    if release is not None:
        qs = qs.filter(release=release)
    results: list[MatchResult] = []
    seen: set[tuple[int, str]] = set()
    for fix in qs.select_related("advisory").order_by("advisory__identifier", "package_name"):
        for name in [fix.package_name, *fix.binaries]:
            if name not in installed or (fix.advisory_id, name) in seen:
                continue
            version = installed[name]
            try:
                if not is_affected(
                    eco, version, fixed=fix.fixed_version, ranges=fix.affected_ranges
                ):
                    continue
                fixed = fixed_version_for(eco, version, fix.affected_ranges) or fix.fixed_version
            except InvalidVersion as exc:
                log.info("skipping %s %s: %s", name, version, exc)
                continue
            seen.add((fix.advisory_id, name))
            results.append(
                MatchResult(
                    advisory=fix.advisory,
                    fix=fix,
                    cves=order_by_epss(fix.cves or fix.advisory.cves),
                    fixed_version=fixed,
                    reboot_required=bool(fix.reboot_required),
                    exploited_cves=list(fix.exploited_cves),
                    package_name=name,
                    installed_version=version,
                )
            )
    return results


# --- tier and risk inputs ----------------------------------------------------------------------


def order_by_epss(cves: Iterable[str]) -> list[str]:
    """CVE ids, highest EPSS first (unscored last), then by id."""
    ids = sorted(set(cves))
    scores = dict(EpssScore.objects.filter(cve_id__in=ids).values_list("cve_id", "score"))
    return sorted(ids, key=lambda c: (-(scores.get(c) if c in scores else Decimal(-1)), c))


def _worst(tiers: Iterable[str]) -> str:
    return max(tiers, key=lambda t: _RANK.get(t, 0), default=SeverityTier.UNKNOWN)


def severity_tier(advisory_or_cves: Advisory | AdvisoryFix | Iterable[str]) -> SeverityTier:
    """Tier from the vendor's severity, raised to critical when any CVE is in CISA KEV.

    Vendor severity is read from the fix row (per product), else the advisory, else the CVEs'
    vendor severity, and only then the CVSS rating. Unknown stays unknown unless KEV lists a CVE.
    """
    if isinstance(advisory_or_cves, AdvisoryFix):
        cves = list(advisory_or_cves.cves or advisory_or_cves.advisory.cves)
        vendor = _worst([advisory_or_cves.severity]) or SeverityTier.UNKNOWN
        if vendor == SeverityTier.UNKNOWN:
            vendor = advisory_or_cves.advisory.vendor_severity
    elif isinstance(advisory_or_cves, Advisory):
        cves = list(advisory_or_cves.cves)
        vendor = advisory_or_cves.vendor_severity
    else:
        cves = list(advisory_or_cves)
        vendor = SeverityTier.UNKNOWN
    if cves and KevEntry.objects.filter(cve_id__in=cves).exists():
        return SeverityTier.CRITICAL
    if vendor == SeverityTier.UNKNOWN and cves:
        rows = list(
            Vulnerability.objects.filter(cve_id__in=cves).values_list(
                "vendor_severity", "cvss_severity"
            )
        )
        vendor = _worst(v for v, _ in rows)
        if vendor == SeverityTier.UNKNOWN:
            vendor = _worst(c for _, c in rows)
    return SeverityTier(vendor)


def cve_signals(cves: Iterable[str]) -> dict:
    """Risk inputs for a set of CVEs.

    ``{"max_cvss": Decimal | None, "max_epss": Decimal | None, "max_epss_percentile": Decimal |
    None, "kev": bool, "kev_cves": [...], "kev_ransomware": bool, "exploited": bool,
    "epss": {cve: score}}`` — ``exploited`` is KEV listing or SSVC Exploitation "active".
    """
    ids = sorted(set(cves))
    vulns = list(
        Vulnerability.objects.filter(cve_id__in=ids).values(
            "cve_id", "cvss3_score", "cvss4_score", "ssvc_exploitation"
        )
    )
    scores = [v["cvss3_score"] if v["cvss3_score"] is not None else v["cvss4_score"] for v in vulns]
    epss = {
        row["cve_id"]: row
        for row in EpssScore.objects.filter(cve_id__in=ids).values("cve_id", "score", "percentile")
    }
    kev = list(KevEntry.objects.filter(cve_id__in=ids).values_list("cve_id", "known_ransomware"))
    return {
        "max_cvss": max((s for s in scores if s is not None), default=None),
        "max_epss": max((r["score"] for r in epss.values()), default=None),
        "max_epss_percentile": max((r["percentile"] for r in epss.values()), default=None),
        "kev": bool(kev),
        "kev_cves": sorted(c for c, _ in kev),
        "kev_ransomware": any(r for _, r in kev),
        "exploited": bool(kev) or any(v["ssvc_exploitation"] == "active" for v in vulns),
        "epss": {c: r["score"] for c, r in epss.items()},
    }
