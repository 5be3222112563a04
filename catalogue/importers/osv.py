"""OSV records (Ubuntu USN and UBUNTU-CVE, GitHub advisories, Debian, PyPI, npm…).

One ``Advisory`` per record (source from the id prefix) and one ``AdvisoryFix`` per affected
ecosystem × package, keeping the OSV ranges (ECOSYSTEM/SEMVER; GIT ranges are kept but never used
for comparison) and the highest fixed version.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from ..choices import AdvisorySource, Ecosystem, SeverityTier
from ..models import Advisory, AdvisoryFix
from ..versions import InvalidVersion, normalise_ecosystem, parse
from .base import (
    Counts,
    ImportFileError,
    Progress,
    parse_cvss3,
    read_json,
    severity_from_score,
    severity_from_text,
    upsert,
)
from .msrc import worst
from .nvd import _when

CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}")
_SOURCES = (
    ("USN-", AdvisorySource.UBUNTU),
    ("UBUNTU-", AdvisorySource.UBUNTU),
    ("GHSA-", AdvisorySource.GHSA),
    ("DSA-", AdvisorySource.DEBIAN),
    ("DLA-", AdvisorySource.DEBIAN),
    ("DEBIAN-", AdvisorySource.DEBIAN),
    ("RHSA-", AdvisorySource.REDHAT),
    ("RHBA-", AdvisorySource.REDHAT),
    ("RHEA-", AdvisorySource.REDHAT),
)
_OS = {
    "ubuntu": "linux",
    "debian": "linux",
    "rpm": "linux",
    "alpine": "linux",
    "windows": "windows",
    "macos": "macos",
}


def source_of(identifier: str) -> str:
    return next((s for p, s in _SOURCES if identifier.upper().startswith(p)), AdvisorySource.OSV)


def release_of(osv_ecosystem: str) -> str:
    """The distribution release an OSV ecosystem names, as ``AdvisoryFix.release`` keeps it.

    ``Ubuntu:22.04:LTS`` → ``22.04``; ``Ubuntu:Pro:16.04:LTS`` → ``pro/16.04`` (Ubuntu Pro /
    ESM); ``Ubuntu:Pro:FIPS:20.04:LTS`` → ``fips/20.04``; ``Debian:12`` → ``12``;
    ``Alpine:v3.18`` → ``3.18``; ``Red Hat:enterprise_linux:9::appstream`` → ``rhel:9``;
    ``AlmaLinux:9`` → ``almalinux:9``; ``Rocky Linux:8`` → ``rocky:8``; ecosystems without a
    release (``Maven``, ``PyPI``) → empty.
    """
    head, _, rest = (osv_ecosystem or "").partition(":")
    family = head.strip().lower()
    parts = [p for p in rest.split(":") if p]
    if family == "ubuntu":
        release = next((p for p in parts if re.fullmatch(r"\d{2}\.\d{2}", p)), "")
        flags = {p.lower() for p in parts}
        if not release:
            return ""
        if any(f.startswith("fips") for f in flags):
            return f"fips/{release}"
        return f"pro/{release}" if "pro" in flags else release
    if family == "alpine":
        m = re.search(r"(\d+\.\d+)", rest)
        return m.group(1) if m else ""
    if family in _RPM_FAMILIES:
        m = re.search(r"(\d+)", rest)
        return f"{_RPM_FAMILIES[family]}:{m.group(1)}" if m else ""
    return parts[0] if parts else ""


_RPM_FAMILIES = {
    "red hat": "rhel",
    "redhat": "rhel",
    "rhel": "rhel",
    "almalinux": "almalinux",
    "rocky linux": "rocky",
    "rocky": "rocky",
    "centos": "centos",
    "oracle linux": "oracle",
    "fedora": "fedora",
    "opensuse": "opensuse",
    "opensuse leap": "opensuse",
    "suse": "suse",
}


def _severity(record: dict[str, Any], affected: dict[str, Any] | None = None) -> str:
    tiers = [SeverityTier.UNKNOWN]
    sources = list(record.get("severity") or [])
    if affected:
        sources += affected.get("severity") or []
        for c in (affected.get("database_specific") or {}).get("cves_map", {}).get("cves", []):
            sources += c.get("severity") or []
    words = [s.get("score") for s in sources if str(s.get("type")).lower() == "ubuntu"]
    words.append((record.get("database_specific") or {}).get("severity"))
    vendor = [severity_from_text(w) for w in words if w]
    vendor = [t for t in vendor if t != SeverityTier.UNKNOWN]
    if vendor:
        return worst(*vendor)
    for s in sources:
        if str(s.get("type", "")).startswith("CVSS_V3"):
            parsed = parse_cvss3(s.get("score"))
            if parsed:
                tiers.append(severity_from_score(parsed[1]))
    return worst(*tiers)


def _cves(record: dict[str, Any]) -> list[str]:
    found = set()
    for key in ("id", "aliases", "upstream", "related"):
        value = record.get(key) or []
        for item in [value] if isinstance(value, str) else value:
            found.update(CVE_RE.findall(str(item)))
    for aff in record.get("affected", []):
        for c in (aff.get("database_specific") or {}).get("cves_map", {}).get("cves", []):
            found.update(CVE_RE.findall(str(c.get("id", ""))))
    if record.get("id", "").startswith("CVE-"):
        found.add(record["id"])
    return sorted(found)


def _highest(eco: str, versions: list[str]) -> str:
    best = ""
    for v in versions:
        try:
            if not best or parse(eco, v) > parse(eco, best):
                best = v
        except InvalidVersion:
            continue
    return best


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def alpine_secdb_records(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Alpine's secdb (``secdb.alpinelinux.org/v3.18/main.json``) as OSV records, one per CVE
    like osv.dev's ``ALPINE-CVE-…``: ``packages[].pkg.secfixes`` maps a fixed version to the
    CVEs it fixes (version ``0`` means the package was never affected and is skipped)."""
    release = str(doc.get("distroversion") or "")
    if not re.fullmatch(r"v?\d+\.\d+", release):
        raise ImportFileError(f"{name}: not an Alpine secdb file (distroversion {release!r})")
    by_cve: dict[str, list[dict[str, Any]]] = {}
    for entry in doc.get("packages") or []:
        pkg = (entry or {}).get("pkg") or {}
        package = str(pkg.get("name") or "")
        for fixed, ids in (pkg.get("secfixes") or {}).items():
            if not package or str(fixed).strip() in {"0", ""}:
                continue
            for item in ids or []:
                for cve in CVE_RE.findall(str(item)):
                    by_cve.setdefault(cve, []).append(
                        {
                            "package": {"ecosystem": f"Alpine:{release}", "name": package},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": str(fixed)}],
                                }
                            ],
                        }
                    )
    return [
        {
            "id": f"ALPINE-{cve}",
            "modified": "",
            "aliases": [cve],
            "summary": f"{cve} fixed in Alpine {release}",
            "affected": affected,
        }
        for cve, affected in sorted(by_cve.items())
    ]


def records_from(path: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(path.glob("**/*.json")) if path.is_dir() else [path]
    if not files:
        raise ImportFileError(f"{path}: no OSV JSON files")
    out = []
    for f in files:
        doc = read_json(f)
        if isinstance(doc, dict) and "distroversion" in doc and "packages" in doc:
            out.extend((f.name, d) for d in alpine_secdb_records(doc, f.name))
            continue
        docs = doc if isinstance(doc, list) else [doc]
        for d in docs:
            if (
                not isinstance(d, dict)
                or "id" not in d
                or not isinstance(d.get("affected", []), list)
            ):
                raise ImportFileError(f"{f.name}: not an OSV record (needs 'id' and 'affected')")
            if "modified" not in d:
                raise ImportFileError(f"{f.name}: not an OSV record (no 'modified' time)")
            out.append((f.name, d))
    return out


def import_osv(path: Path, *, progress: Progress | None = None) -> Counts:
    records = records_from(path)
    adv_rows, fix_specs = [], []
    for _name, rec in records:
        source = source_of(rec["id"])
        cves = _cves(rec)
        families = set()
        for aff in rec.get("affected", []):
            pkg = aff.get("package") or {}
            osv_eco = str(pkg.get("ecosystem", ""))
            try:
                eco = normalise_ecosystem(osv_eco)
            except InvalidVersion:
                eco = Ecosystem.OTHER
            if eco not in Ecosystem.values:
                eco = Ecosystem.OTHER
            ranges = [r for r in aff.get("ranges", []) if isinstance(r, dict)]
            fixed = [
                str(e["fixed"])
                for r in ranges
                if str(r.get("type", "")).upper() != "GIT"
                for e in r.get("events", [])
                if "fixed" in e
            ]
            binaries = sorted(
                {
                    b.get("binary_name", "")
                    for b in (aff.get("ecosystem_specific") or {}).get("binaries", [])
                    if b.get("binary_name")
                }
            )
            families.add(_OS.get(eco, ""))
            fix_specs.append(
                {
                    "key": (source, rec["id"]),
                    "product": osv_eco[:300],
                    "package_name": str(pkg.get("name", ""))[:300],
                    "binaries": binaries,
                    "product_id": "",
                    "os_family": _OS.get(eco, ""),
                    "ecosystem": eco,
                    "release": release_of(osv_eco)[:60],
                    "fixed_version": _highest(eco, fixed)[:200],
                    "affected_ranges": ranges,
                    "severity": _severity(rec, aff),
                    "cves": cves,
                    "exploited_cves": [],
                    "supersedes": [],
                    "subtype": "",
                    "is_hotpatch": False,
                    "reboot_required": None,
                }
            )
        families.discard("")
        adv_rows.append(
            {
                "source": source,
                "identifier": rec["id"][:100],
                "title": (rec.get("summary") or rec.get("details") or rec["id"])[:500].split("\n")[
                    0
                ],
                "vendor": {"ubuntu": "Canonical", "ghsa": "GitHub", "debian": "Debian"}.get(
                    source, ""
                ),
                "release_date": _date(rec.get("published") or rec.get("modified")),
                "withdrawn_at": _when(rec.get("withdrawn")),
                "vendor_severity": _severity(rec, None)
                if source == AdvisorySource.GHSA
                else worst(*[f["severity"] for f in fix_specs if f["key"] == (source, rec["id"])]),
                "reboot_required": False,
                "cves": cves,
                "exploited_cves": [],
                "aliases": sorted(set(rec.get("aliases") or []) | set(rec.get("upstream") or [])),
                "os_family": families.pop() if len(families) == 1 else "",
                "document": "",
                "url": next(
                    (
                        r.get("url", "")
                        for r in rec.get("references", [])
                        if r.get("type") == "ADVISORY"
                    ),
                    "",
                )[:500],
            }
        )
    counts = Counts()
    for _name, rec in records:
        counts.newer(_when(rec.get("modified")))
    ids = _upsert_advisories(adv_rows, counts)
    rows = []
    for spec in _merge_same_package(fix_specs):
        key = spec.pop("key")
        rows.append({"advisory_id": ids[key], **spec})
    _upsert_fixes(rows, counts, progress)
    return counts


def _merge_same_package(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per advisory × ecosystem × package: several ``affected`` entries (GHSA lists one
    per range) are joined, keeping every range and the highest fixed version."""
    merged: dict[tuple, dict[str, Any]] = {}
    for spec in specs:
        k = (spec["key"], spec["product"], spec["package_name"])
        if k not in merged:
            merged[k] = spec
            continue
        into = merged[k]
        into["affected_ranges"] = into["affected_ranges"] + spec["affected_ranges"]
        into["binaries"] = sorted(set(into["binaries"]) | set(spec["binaries"]))
        into["severity"] = worst(into["severity"], spec["severity"])
        into["fixed_version"] = _highest(
            spec["ecosystem"], [v for v in (into["fixed_version"], spec["fixed_version"]) if v]
        )
    return list(merged.values())


def _upsert_advisories(rows: list[dict[str, Any]], counts: Counts) -> dict[tuple, int]:
    return upsert(
        Advisory,
        rows,
        key=("source", "identifier"),
        counts=counts,
        table="advisories",
        existing=lambda chunk: Advisory.objects.filter(
            identifier__in=[r["identifier"] for r in chunk]
        ),
    )


def _upsert_fixes(rows: list[dict[str, Any]], counts: Counts, progress: Progress | None) -> None:
    upsert(
        AdvisoryFix,
        rows,
        key=("advisory_id", "product", "package_name"),
        counts=counts,
        table="advisory fixes",
        existing=lambda chunk: AdvisoryFix.objects.filter(
            advisory_id__in={r["advisory_id"] for r in chunk}
        ),
        progress=progress,
    )
