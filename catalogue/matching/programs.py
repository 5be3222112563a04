"""Third-party programs, macOS apps and Homebrew packages against NVD's CPE ranges: a program
normalised to a CPE product (``catalogue.applications``) is missing a fix when its version lies
inside a range of one of the product's CVEs on the host's platform."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from catalogue.applications import Identified, cpe_product_candidates, identify, normalise_name
from catalogue.choices import SeverityTier
from catalogue.cpe import CpeError, CpeVersion, in_range, parse_cpe
from catalogue.matching.tiers import order_by_epss, severity_tier
from catalogue.models import CpeMatch, Vulnerability

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
