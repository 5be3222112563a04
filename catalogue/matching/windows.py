"""Windows hosts against MSRC: the host's exact MSRC product (edition, release, architecture), the
newest cumulative update of that product, what it supersedes and rolls up, and the servicing
stack to install first. Builds are compared only with a FixedBuild of the same major build."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from catalogue.choices import Ecosystem
from catalogue.matching.base import MatchResult, _is_cve, _iso
from catalogue.matching.tiers import order_by_epss
from catalogue.models import AdvisoryFix

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
