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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q

from .choices import Ecosystem, SeverityTier
from .models import Advisory, AdvisoryFix, CpeMatch, EpssScore, KevEntry, Vulnerability
from .versions import (
    InvalidVersion,
    fixed_version_for,
    is_affected,
    normalise_ecosystem,
)

if TYPE_CHECKING:
    from .applications import Identified

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
    "ApplicationMatch",
    "missing_application_fixes",
    "verified_application_fixes",
    "release_filter",
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
    reason: dict = field(default_factory=dict)

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
_WIN11 = {22000: "21H2", 22621: "22H2", 22631: "23H2", 26100: "24H2", 26200: "25H2"}
_SERVER = {
    6002: "Windows Server 2008 for {arch} Service Pack 2",
    6003: "Windows Server 2008 for {arch} Service Pack 2",
    7601: "Windows Server 2008 R2 for x64-based Systems Service Pack 1",
    9200: "Windows Server 2012",
    9600: "Windows Server 2012 R2",
    14393: "Windows Server 2016",
    17763: "Windows Server 2019",
    20348: "Windows Server 2022",
    25398: "Windows Server 2022, 23H2 Edition",
    26100: "Windows Server 2025",
}
CORE = " (Server Core installation)"


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
    """MSRC's architecture wording: x64 unless the host says ARM64 or 32-bit (x86)."""
    a = (arch or "").lower()
    if "arm" in a or "aarch64" in a:
        return "ARM64-based Systems"
    if any(t in a for t in ("x86_64", "amd64", "x64", "64-bit", "64 bit", "ia64")) or not a:
        return "x64-based Systems"
    if any(t in a for t in ("x86", "32", "i386", "i686")):
        return "32-bit Systems"
    return "x64-based Systems"


def _canonical(*names: str) -> str:
    """The first of ``names`` the catalogue has, in MSRC's own spelling (it writes "Windows 11
    version 21H2" and "Windows 8.1 for x64-based systems"); the first name when none is known."""
    for name in names:
        stored = (
            AdvisoryFix.objects.filter(product__iexact=name, ecosystem=Ecosystem.WINDOWS)
            .values_list("product", flat=True)
            .first()
        )
        if stored:
            return stored
    return names[0]


def windows_product_for(
    os_name: str, os_version: str, os_build: str, arch: str | None
) -> str | None:
    """MSRC product name for a Windows OS as systeminfo or osquery reports it.

    ``("Microsoft Windows 11 Enterprise", "10.0.22631 N/A Build 22631", "22631", "x64-based PC")``
    → ``"Windows 11 Version 23H2 for x64-based Systems"``. The exact product: edition family
    (client or Server, Server Core), release (from the build number), and architecture (x64,
    ARM64, 32-bit). None when it is not a Windows release the mapping knows (its findings then
    come only from the device's own pending updates).
    """
    name = (os_name or "").lower()
    if "windows" not in name:
        return None
    build = _build_number(os_build, os_version)
    if build is None:
        return None
    suffix = _arch_suffix(arch)
    if "server" in name:
        product = _SERVER.get(build)
        if product is None:
            return None
        product = product.format(arch=suffix.replace("ARM64-based", "x64-based"))
        # Server Core and full installations take the same KBs; MSRC lists some releases (2022
        # 23H2 Edition) only as Server Core.
        if "core" in name:
            return _canonical(product + CORE, product)
        return _canonical(product, product + CORE)
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
#
# Every fix row of one MSRC product is an update of one *line*:
#
# * ``os``: the monthly cumulative update (SubType "Security Update", "Monthly Rollup", and
#   out-of-band releases, which are cumulative updates with a higher FixedBuild), plus the
#   legacy "Security Only" updates (not cumulative: they satisfy their own month only);
# * ``ie``: Internet Explorer's cumulative update (legacy Windows) beside the OS line;
# * ``ssu``: servicing-stack updates (MSRC's ADV990001 lists them). A prerequisite of the
#   cumulative update: never folded into it, never hiding it, and never satisfied by it. An SSU
#   that fixes no CVE of its own is not a finding: the cumulative update's finding names it as
#   the update to install first. One that fixes CVEs is offered on its own line;
# * ``hotpatch``: hotpatch releases. Never offered (the cumulative update is); an installed
#   hotpatch satisfies the cumulative update of its own month.
#
# Within a line the newest update is the one with the highest FixedBuild (the same numbers the
# host reports as its build), then the latest release date: never the order the documents were
# imported in, and never the document that merely *named* a KB (a monthly document can list the
# previous month's update as the fix for some of its CVEs).


def _kb(value: str) -> str | None:
    m = re.search(r"(\d{6,8})", value or "")
    return f"KB{m.group(1)}" if m else None


def _split_build(text: str | None) -> tuple[int, int | None] | None:
    """``10.0.22631.2715`` → (22631, 2715); ``22631.2715`` → (22631, 2715); ``22631`` →
    (22631, None)."""
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


def update_line(fix: AdvisoryFix) -> str:
    """The line a Windows fix belongs to: ``os``, ``ie``, ``ssu`` or ``hotpatch``."""
    subtype = (fix.subtype or "").lower()
    if fix.is_hotpatch or "hotpatch" in subtype:
        return "hotpatch"
    if "ie cumulative" in subtype or "internet explorer" in subtype:
        return "ie"
    if "servicing stack" in subtype:
        return "ssu"
    return "os"


def is_cumulative(fix: AdvisoryFix) -> bool:
    """Whether installing ``fix`` also brings every older update of its line."""
    return update_line(fix) in {"os", "ie", "ssu"} and "only" not in (fix.subtype or "").lower()


def _numbers(text: str | None) -> tuple[int, ...]:
    parts = re.findall(r"\d+", (text or "").split(" ")[0])
    return tuple(int(p) for p in parts[:4])


# Releases serviced by one cumulative update share its revision number (UBR), and MSRC's
# FixedBuild for one of them may name a sibling (Windows 10 21H2 rows read 10.0.19043.3693 or
# 10.0.19041.3803): 2004–22H2 are one branch, Windows 11 22H2/23H2 another, 24H2/25H2 a third.
_SERVICING_BRANCH = {
    19042: 19041,
    19043: 19041,
    19044: 19041,
    19045: 19041,
    22631: 22621,
    26200: 26100,
}


def _branch(build: int) -> int:
    return _SERVICING_BRANCH.get(build, build)


def newness(fix: AdvisoryFix) -> tuple:
    """Sort key of a fix within its line: FixedBuild (servicing branch, then revision), then
    release date, then KB number."""
    released = fix.advisory.release_date or date.min
    parsed = _split_build(fix.fixed_version)
    build = (_branch(parsed[0]), parsed[1] or 0) if parsed else _numbers(fix.fixed_version)
    return (build, released, _kb_number(fix.advisory.identifier))


def _kb_number(identifier: str) -> int:
    m = re.search(r"(\d+)", identifier or "")
    return int(m.group(1)) if m else 0


def _comparable(a: AdvisoryFix, b: AdvisoryFix) -> bool:
    """Two fixes of one line compare by build only within the same major build (or both none)."""
    sa, sb = _split_build(a.fixed_version), _split_build(b.fixed_version)
    if update_line(a) == "os" and sa and sb:
        return _branch(sa[0]) == _branch(sb[0])
    return True


def windows_fixes_for(product: str) -> list[AdvisoryFix]:
    """Every catalogue fix for ``product``, oldest first (one query; reusable across hosts)."""
    fixes = list(
        AdvisoryFix.objects.filter(product__iexact=product, ecosystem=Ecosystem.WINDOWS)
        .select_related("advisory")
        .order_by("advisory__identifier")
    )
    return sorted(fixes, key=newness)


@dataclass
class _Coverage:
    installed: set[str]
    covered: set[str]
    edges: dict[str, set[str]]
    best: dict[str, AdvisoryFix]
    months: dict[str, set]
    host_build: tuple[int, int | None] | None

    def satisfied(self, fix: AdvisoryFix) -> bool:
        kb, line = fix.advisory.identifier, update_line(fix)
        if kb in self.covered:
            return True
        best = self.best.get(line)
        if best is not None and _comparable(best, fix) and newness(best) >= newness(fix):
            return True  # a newer cumulative update of the line is installed
        if line == "os" and _build_covers(self.host_build, fix.fixed_version):
            return True  # the host's own build number (10.0.22631.2715) reaches the fix
        month = fix.advisory.release_date
        return line == "os" and month is not None and month in self.months.get(line, set())


def _windows_coverage(
    fixes: list[AdvisoryFix], installed_kbs: set[str], os_build: str | None
) -> _Coverage:
    installed = {kb for kb in (_kb(k) for k in installed_kbs) if kb}
    edges: dict[str, set[str]] = {}
    for fix in fixes:
        edges.setdefault(fix.advisory.identifier, set()).update(fix.supersedes)
    best: dict[str, AdvisoryFix] = {}
    months: dict[str, set] = {}
    for fix in fixes:
        if fix.advisory.identifier not in installed:
            continue
        line = update_line(fix)
        if is_cumulative(fix):
            if line not in best or newness(fix) > newness(best[line]):
                best[line] = fix
        elif fix.advisory.release_date is not None:
            # Security Only and hotpatch releases satisfy their own month of the OS line.
            months.setdefault("os", set()).add(fix.advisory.release_date)
    return _Coverage(
        installed=installed,
        covered=_superseded_closure(installed, edges),
        edges=edges,
        best=best,
        months=months,
        host_build=_split_build(os_build),
    )


def satisfied_windows_kbs(
    product: str,
    installed_kbs: set[str],
    os_build: str | None,
    *,
    fixes: list[AdvisoryFix] | None = None,
) -> set[str]:
    """KBs of ``product`` the host counts as having: installed, or replaced by what is installed
    (supersedence, a newer cumulative update of the same line, the host's own build). What
    verifies a finding for an older cumulative update once a later one is installed."""
    fixes = windows_fixes_for(product) if fixes is None else fixes
    coverage = _windows_coverage(fixes, installed_kbs, os_build)
    return {f.advisory.identifier for f in fixes if coverage.satisfied(f)}


def missing_windows_fixes(
    product: str,
    installed_kbs: set[str],
    os_build: str | None,
    *,
    fixes: list[AdvisoryFix] | None = None,
) -> list[MatchResult]:
    """The newest update of each line of ``product`` that the host still needs, at most one per
    line (OS cumulative, Internet Explorer cumulative, servicing stack).

    A fix counts as installed when its KB is installed, when an installed KB supersedes it
    (transitively, through MSRC's Supercedence), when an installed cumulative update of the same
    line is newer (higher FixedBuild), when the host's full build (``10.0.22631.2715``) reaches
    its FixedBuild, or — for the OS line — when a Security Only or hotpatch release of the same
    month is installed. Every fix of the line the host lacks is rolled into the newest cumulative
    update (its ``cves`` are theirs too, ``rolls_up`` names their KBs), and no superseded
    update is ever returned beside it. Hotpatch and Security Only KBs are never proposed while a
    cumulative update of the line exists.
    """
    fixes = windows_fixes_for(product) if fixes is None else fixes
    if not fixes:
        return []
    coverage = _windows_coverage(fixes, installed_kbs, os_build)
    by_line: dict[str, list[AdvisoryFix]] = defaultdict(list)
    for fix in fixes:
        line = update_line(fix)
        if line != "hotpatch":
            by_line[line].append(fix)
    results: list[MatchResult] = []
    prerequisite: AdvisoryFix | None = None
    for line in ("ssu", "os", "ie"):
        rows = by_line.get(line)
        if not rows:
            continue
        offerable = [f for f in rows if is_cumulative(f)] or rows
        newest = max(offerable, key=newness)
        lacking = [f for f in rows if not coverage.satisfied(f) and _comparable(newest, f)]
        if not lacking:
            continue
        if line == "ssu" and not any(_is_cve(c) for f in lacking for c in f.cves):
            prerequisite = newest  # fixes no CVE: installed first, named by the OS update
            continue
        rolled = sorted(
            {f.advisory.identifier for f in lacking} - {newest.advisory.identifier},
            key=_kb_number,
        )
        cves = {c for f in lacking for c in f.cves}
        exploited = {c for f in lacking for c in f.exploited_cves}
        ordered = order_by_epss(cves)
        results.append(
            MatchResult(
                advisory=newest.advisory,
                fix=newest,
                cves=ordered,
                fixed_version=newest.fixed_version,
                reboot_required=bool(newest.reboot_required),
                exploited_cves=[c for c in ordered if c in exploited],
                rolls_up=rolled,
                reason=_windows_reason(
                    product,
                    newest,
                    rolled,
                    coverage,
                    os_build,
                    prerequisite=prerequisite if line == "os" else None,
                ),
            )
        )
    order = {"os": 0, "ie": 1, "ssu": 2}
    return sorted(results, key=lambda m: order[update_line(m.fix)])


def _is_cve(identifier: str) -> bool:
    """A CVE id, not one of MSRC's advisories (``ADV990001``, the servicing-stack list)."""
    return (identifier or "").upper().startswith("CVE-")


def _windows_reason(
    product: str,
    fix: AdvisoryFix,
    rolled: list[str],
    coverage: _Coverage,
    os_build: str | None,
    *,
    prerequisite: AdvisoryFix | None = None,
) -> dict:
    installed = coverage.best.get(update_line(fix))
    first = None
    if prerequisite is not None:
        first = {
            "kb": prerequisite.advisory.identifier,
            "subtype": prerequisite.subtype,
            "release_date": _iso(prerequisite.advisory.release_date),
        }
    return {
        "kind": "windows",
        "product": product,
        "line": update_line(fix),
        "subtype": fix.subtype,
        "fixed_build": fix.fixed_version,
        "release_date": _iso(fix.advisory.release_date),
        "document": fix.advisory.document,
        "supersedes": sorted(fix.supersedes, key=_kb_number),
        "rolls_up": rolled,
        "host_build": os_build or "",
        "latest_installed": installed.advisory.identifier if installed else None,
        "latest_installed_build": installed.fixed_version if installed else None,
        "prerequisite": first,
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# --- package fixes -----------------------------------------------------------------------------

_ARCH = re.compile(r":(amd64|i386|arm64|armhf|armel|all|ppc64el|s390x|x86_64|noarch|aarch64)$")


_RPM_UPSTREAM = {"almalinux", "rocky", "centos", "oracle"}  # rebuilds of Red Hat Enterprise Linux


def release_filter(ecosystem: str) -> list[str] | None:
    """The ``AdvisoryFix.release`` values that apply to a host of ``ecosystem``, or None for an
    ecosystem without releases (every fix applies).

    Ubuntu: the release and its Ubuntu Pro / ESM fixes (``16.04`` and ``pro/16.04``: past
    standard support, 14.04, 16.04 and 18.04 get their fixes only through ESM). Debian: the
    release number (a codename is translated). RHEL family: the distribution's own advisories
    and, for rebuilds (AlmaLinux, Rocky, CentOS, Oracle Linux), Red Hat's. Alpine: ``3.18``.
    """
    parts = [p for p in ecosystem.split(":")[1:] if p]
    if not parts:
        return None
    from .importers.debian import release_number
    from .importers.osv import release_of

    family = normalise_ecosystem(ecosystem)
    release = release_of(ecosystem)
    if family == "debian":
        return [release_number(release)]
    if family == "ubuntu" and release and "/" not in release:
        return [release, f"pro/{release}"]
    if family == "rpm" and ":" in release:
        distro, major = release.split(":", 1)
        return [release, f"rhel:{major}"] if distro in _RPM_UPSTREAM else [release]
    return [release]


def missing_package_fixes(ecosystem: str, packages: list[tuple[str, str]]) -> list[MatchResult]:
    """Fixes whose OSV ranges (or fixed version) still contain an installed package version.

    ``ecosystem`` is an OSV ecosystem: ``Ubuntu:22.04:LTS``, ``Debian:12`` (or ``Debian:bookworm``),
    ``Ubuntu:Pro:16.04:LTS``, ``Rocky Linux:9``, ``Alpine:v3.18``, ``Maven``, ``PyPI``, ``npm``…;
    ``release_filter`` says which releases' fixes apply; withdrawn records never match.
    Package names may carry a dpkg/rpm arch suffix (``libssl3:amd64``); Ubuntu binary package
    names match through the advisory's binaries list. Versions that do not parse are skipped.
    """
    eco = normalise_ecosystem(ecosystem)
    releases = release_filter(ecosystem)
    installed: dict[str, str] = {}
    for name, version in packages:
        installed[_ARCH.sub("", name.strip())] = version
    if not installed:
        return []
    names = list(installed)
    qs = AdvisoryFix.objects.filter(ecosystem=eco, advisory__withdrawn_at__isnull=True).filter(
        Q(package_name__in=names) | Q(binaries__overlap=names)
    )
    if releases is not None:
        qs = qs.filter(release__in=releases)
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
    if cves and KevEntry.objects.listed().filter(cve_id__in=cves).exists():
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
    kev = list(
        KevEntry.objects.listed().filter(cve_id__in=ids).values_list("cve_id", "known_ransomware")
    )
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


# --- third-party applications (NVD CPE ranges) ------------------------------------------------

_OS_OF_CPE = (
    ("microsoft", "windows", "windows"),
    ("apple", "mac", "macos"),
    ("apple", "macos", "macos"),
    ("linux", "linux", "linux"),
)
_TARGET_SW = {
    "windows": "windows",
    "macos": "macos",
    "mac_os_x": "macos",
    "mac_os": "macos",
    "linux": "linux",
    "iphone_os": "ios",
    "android": "android",
    "ios": "ios",
}


@dataclass
class ApplicationMatch:
    """A third-party program whose version lies in NVD CPE ranges: the CVEs, the version that
    leaves every range (``fixed_version``, empty when no range names one), and why."""

    package_name: str
    installed_version: str
    fixed_version: str
    cves: list[str]
    vendor_severity: str
    reason: dict

    @property
    def patch_identifier(self) -> str:
        return f"{self.package_name}@{self.fixed_version or 'unfixed'}"


def _platform_family(criteria: str) -> str | None:
    from .cpe import CpeError, parse_cpe

    try:
        cpe = parse_cpe(criteria)
    except CpeError:
        return None
    if cpe.part != "o":
        return None
    for vendor, prefix, family in _OS_OF_CPE:
        if cpe.vendor == vendor and cpe.product.startswith(prefix):
            return family
    return "other"


def _runs_on(row: CpeMatch, os_family: str) -> bool:
    target = _TARGET_SW.get(row.target_sw)
    if target and os_family and target != os_family:
        return False
    families = {f for f in (_platform_family(p) for p in row.platforms) if f}
    return not families or not os_family or os_family in families


def _update_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def _row_contains(row: CpeMatch, version: str, update: str) -> bool:
    from .cpe import CpeVersion, in_range

    bounded = any(
        (
            row.version_start_including,
            row.version_start_excluding,
            row.version_end_including,
            row.version_end_excluding,
        )
    )
    if not bounded and row.version not in ("", "*", "-"):
        if CpeVersion(version) != CpeVersion(row.version):
            return False
        if row.update in ("", "*", "-"):
            return True
        return bool(update) and _update_key(row.update) == _update_key(update)
    return in_range(
        version,
        exact=row.version,
        start_including=row.version_start_including,
        start_excluding=row.version_start_excluding,
        end_including=row.version_end_including,
        end_excluding=row.version_end_excluding,
    )


def _fixed_version_for(hits: list[CpeMatch], rows: list[CpeMatch], os_family: str) -> str:
    """The first version NVD names that leaves every range containing the host's version
    (``hits``) and falls in no other range of the product (``rows``), or "" when none is
    published: a range closed only by ``versionEndIncluding`` (the last affected version),
    a range without an upper bound, or an exact affected version all say what is affected,
    never what fixes it."""
    from .cpe import CpeVersion

    if not hits or any(not r.version_end_excluding for r in hits):
        return ""
    floor = max((CpeVersion(r.version_end_excluding) for r in hits), default=None)
    candidates = sorted(
        {r.version_end_excluding for r in rows if r.version_end_excluding}, key=CpeVersion
    )
    for candidate in candidates:
        if CpeVersion(candidate) < floor:
            continue
        if not any(_runs_on(r, os_family) and _row_contains(r, candidate, "") for r in rows):
            return candidate
    return ""


def _last_affected(hits: list[CpeMatch]) -> str:
    """What NVD says is affected when it names no fix: ``<= 8.5.6``, ``= 1.8.0 update381``."""
    out = []
    for r in hits:
        if r.version_end_excluding:
            continue
        if r.version_end_including:
            out.append(f"<= {r.version_end_including}")
        elif r.version not in ("", "*", "-"):
            out.append(" ".join(p for p in (f"= {r.version}", r.update) if p not in ("*", "-")))
        else:
            out.append(r.range_text() + " (no upper bound)")
    return ", ".join(sorted(set(out)))


def _identified(
    programs: list[tuple[str, str, str, str]],
) -> list[tuple[str, str, str, Identified]]:
    """(kind, name, version, identification) of each program the catalogue can name."""
    from .applications import cpe_product_candidates, identify, normalise_name

    candidates = {
        c
        for kind, name, _v, _p in programs
        if kind not in ("deb", "rpm")  # packages: only the curated third-party names
        for c in cpe_product_candidates(normalise_name(name))
    }
    nvd_products: dict[str, set[str]] = defaultdict(set)
    for product, vendor in (
        CpeMatch.objects.filter(part="a", product__in=candidates)
        .values_list("product", "vendor")
        .distinct()
    ):
        nvd_products[product].add(vendor)
    found = []
    for kind, name, version, publisher in programs:
        ident = identify(kind, name, version, publisher, nvd_products=nvd_products)
        if ident is not None:
            found.append((kind, name, version, ident))
    return found


def _rows_by_product(
    pairs: set[tuple[str, str]], cves: set[str] | None = None
) -> dict[tuple[str, str], list[CpeMatch]]:
    rows_by_pair: dict[tuple[str, str], list[CpeMatch]] = defaultdict(list)
    if not pairs:
        return rows_by_pair
    qs = CpeMatch.objects.filter(
        part="a", vendor__in={v for v, _ in pairs}, product__in={p for _, p in pairs}
    )
    if cves is not None:
        qs = qs.filter(cve_id__in=cves)
    for row in qs.order_by("cve_id", "pk"):
        if (row.vendor, row.product) in pairs:
            rows_by_pair[(row.vendor, row.product)].append(row)
    return rows_by_pair


def missing_application_fixes(
    programs: list[tuple[str, str, str, str]], os_family: str
) -> list[ApplicationMatch]:
    """Third-party programs of one host inside NVD CPE version ranges.

    ``programs``: (inventory kind, name, version, publisher) of Windows programs, macOS apps and
    Homebrew packages. Each is identified (``catalogue.applications.identify``: the curated
    mapping, else an NVD product its publisher confirms), then compared with every vulnerable
    ``CpeMatch`` of its vendor and product whose platform fits ``os_family``. One match per
    program carries all its CVEs and the first version NVD names outside every range that
    contains it; when NVD names none (ranges closed by ``versionEndIncluding``, open-ended, or
    exact affected versions such as Oracle Java's ``1.8.0 update381``) the match says that no
    fixed version is published (``fixed_version`` is empty).
    """
    if not programs or not CpeMatch.objects.filter(part="a").exists():
        return []
    found = _identified(programs)
    if not found:
        return []
    rows_by_pair = _rows_by_product({(i.vendor, i.product) for *_rest, i in found})
    rejected = set(
        Vulnerability.objects.filter(
            cve_id__in={r.cve_id for rows in rows_by_pair.values() for r in rows},
            is_rejected=True,
        ).values_list("cve_id", flat=True)
    )
    results = []
    seen: set[str] = set()
    for kind, name, version, ident in found:
        rows = [
            r
            for r in rows_by_pair.get((ident.vendor, ident.product), [])
            if r.cve_id not in rejected and _runs_on(r, os_family)
        ]
        hits = [r for r in rows if _row_contains(r, ident.version, ident.update)]
        if not hits or name in seen:
            continue
        seen.add(name)
        fixed = _fixed_version_for(hits, rows, os_family)
        cves = order_by_epss({r.cve_id for r in hits})
        compared = " ".join(p for p in (ident.version, ident.update) if p)
        unfixed = sorted({r.cve_id for r in hits if not r.version_end_excluding})
        if fixed:
            remediation = f"Update {ident.application} to {fixed} or later."
        else:
            remediation = (
                f"No fixed version published: NVD lists {ident.application} {compared} as "
                f"affected ({_last_affected(hits) or 'see ranges'})"
                " and names no version that fixes "
                + (", ".join(unfixed) if unfixed else "every CVE")
                + ". Update to the vendor's newest release once it leaves these ranges, or "
                "remove the program or record an exception with compensating controls."
            )
        results.append(
            ApplicationMatch(
                package_name=name,
                installed_version=version,
                fixed_version=fixed,
                cves=cves,
                vendor_severity=SeverityTier(severity_tier(cves)),
                reason={
                    "kind": "application",
                    "program": name,
                    "inventory_kind": kind,
                    "application": ident.application,
                    "cpe": f"cpe:2.3:a:{ident.vendor}:{ident.product}",
                    "rule": ident.reason,
                    "curated": ident.curated,
                    "compared_version": compared,
                    "ranges": [
                        {"cve": r.cve_id, "range": r.range_text(), "criteria": r.criteria}
                        for r in hits[:25]
                    ],
                    "fixed_version": fixed,
                    "no_fixed_version": not fixed,
                    "unfixed_cves": unfixed,
                    "remediation": remediation,
                },
            )
        )
    return results


def verified_application_fixes(
    programs: list[tuple[str, str, str, str]],
    os_family: str,
    findings: list[tuple[str, list[str]]],
) -> dict[str, str]:
    """Which third-party findings the host's programs now prove fixed: ``{patch identifier:
    proof}``.

    ``findings`` are (patch identifier, CVEs) of outstanding findings from NVD CPE ranges. One
    is fixed when the host has a program of the finding's CPE product and every such program is
    outside every range of the finding's CVEs: Java 8 Update 381 replaced by Update 391 (a new
    program name), or a program whose ranges named no fix, updated past them. A finding whose
    product is no longer installed at all is not proven fixed (a missing row is not a fix)."""
    if not programs or not findings:
        return {}
    cves = {c for _pid, cs in findings for c in cs}
    rows = [r for r in CpeMatch.objects.filter(part="a", cve_id__in=cves) if _runs_on(r, os_family)]
    if not rows:
        return {}
    found = _identified(programs)
    proofs: dict[str, str] = {}
    for patch, finding_cves in findings:
        mine = [r for r in rows if r.cve_id in set(finding_cves)]
        products = {(r.vendor, r.product) for r in mine}
        current = [(n, v, i) for _k, n, v, i in found if (i.vendor, i.product) in products]
        if not current:
            continue
        if any(
            _row_contains(r, i.version, i.update)
            for _n, _v, i in current
            for r in mine
            if (r.vendor, r.product) == (i.vendor, i.product)
        ):
            continue
        shown = ", ".join(f"{n} {v}" for n, v, _i in current)
        proofs[patch] = f"{shown} outside every NVD range of {', '.join(sorted(set(finding_cves)))}"
    return proofs
