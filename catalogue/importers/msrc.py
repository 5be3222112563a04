"""Microsoft Security Update Guide CVRF 1.1 documents (one per month).

Each numeric "Vendor Fix" remediation is a KB: one ``Advisory`` per KB and one ``AdvisoryFix`` per
KB × product, with the FixedBuild, the KBs it supersedes, whether it needs a reboot, its SubType
(hotpatches are flagged) and the CVEs it fixes for that product, with MSRC's "Exploited:Yes"
flags. Non-KB remediations (release notes, Click-to-Run channels, CBL-Mariner packages) are skipped.
Servicing-stack updates (MSRC's advisory ADV990001, SubType "Servicing Stack Update") are kept
as fixes like any KB, with the advisory id in place of a CVE; the advisory itself is no CVE
record.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from common.safexml import UnsafeOrInvalidXml, parse_xml

from ..choices import AdvisorySource, Ecosystem, SeverityTier
from ..models import Advisory, AdvisoryFix, Vulnerability
from ..scoring import CNA, score_entry
from .base import (
    Counts,
    ImportFileError,
    Progress,
    parse_cvss3,
    read_bytes,
    severity_from_text,
    upsert,
)
from .nvd import _when, with_merged_scores

NS = {
    "cvrf": "http://www.icasi.org/CVRF/schema/cvrf/1.1",
    "vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1",
    "prod": "http://www.icasi.org/CVRF/schema/prod/1.1",
}
_RANK = {
    SeverityTier.UNKNOWN: 0,
    SeverityTier.LOW: 1,
    SeverityTier.MEDIUM: 2,
    SeverityTier.HIGH: 3,
    SeverityTier.CRITICAL: 4,
}
KB_RE = re.compile(r"^(?:KB)?(\d{6,8})$", re.IGNORECASE)


def worst(*tiers: str) -> str:
    return max(tiers, key=lambda t: _RANK.get(t, 0), default=SeverityTier.UNKNOWN)


def _text(node: ET.Element | None, path: str) -> str:
    found = node.find(path, NS) if node is not None else None
    return (found.text or "").strip() if found is not None and found.text else ""


def os_family_of(product: str) -> str:
    name = product.lower()
    if "for mac" in name or "macos" in name:
        return "macos"
    if name.startswith("windows") or " on windows" in name or "windows server" in name:
        return "windows"
    return ""


def kb_ids(text: str) -> list[str]:
    return sorted({f"KB{m}" for m in re.findall(r"\d{6,8}", text or "")})


def parse_document(data: bytes, name: str) -> dict[str, Any]:
    try:
        root = parse_xml(data)
    except UnsafeOrInvalidXml as exc:
        raise ImportFileError(f"{name}: {exc}") from None
    if root.tag != f"{{{NS['cvrf']}}}cvrfdoc":
        raise ImportFileError(f"{name}: not an MSRC CVRF 1.1 document (root is {root.tag})")
    doc_id = _text(root, "cvrf:DocumentTracking/cvrf:Identification/cvrf:ID")
    released = _text(root, "cvrf:DocumentTracking/cvrf:InitialReleaseDate")[:10]
    current = _text(root, "cvrf:DocumentTracking/cvrf:CurrentReleaseDate") or released
    products = {
        p.get("ProductID"): (p.text or "").strip()
        for p in root.iter(f"{{{NS['prod']}}}FullProductName")
    }
    vulns = root.findall("vuln:Vulnerability", NS)
    if not products or not vulns:
        raise ImportFileError(f"{name}: the CVRF document lists no products or vulnerabilities")
    return {
        "id": doc_id,
        "title": _text(root, "cvrf:DocumentTitle"),
        "release_date": date.fromisoformat(released) if released else None,
        "current_release": _when(current),
        "products": products,
        "vulnerabilities": vulns,
    }


def import_msrc(path: Path, *, progress: Progress | None = None) -> Counts:
    doc = parse_document(read_bytes(path), path.name)
    products: dict[str, str] = doc["products"]
    vuln_rows: list[dict[str, Any]] = []
    msrc_scores: dict[str, list[dict[str, Any]]] = {}
    fixes: dict[tuple[str, str], dict[str, Any]] = {}
    for v in doc["vulnerabilities"]:
        cve = _text(v, "vuln:CVE")
        if not cve:
            continue
        severity_by_product: dict[str, str] = {}
        exploited = False
        for threat in v.findall("vuln:Threats/vuln:Threat", NS):
            kind = threat.get("Type")
            desc = _text(threat, "vuln:Description")
            if kind == "Severity":
                for pid in threat.findall("vuln:ProductID", NS):
                    severity_by_product[(pid.text or "").strip()] = severity_from_text(desc)
            elif kind == "Exploit Status" and "exploited:yes" in desc.lower().replace(" ", ""):
                exploited = True
        vectors = [
            parse_cvss3(_text(s, "vuln:Vector")) for s in v.findall("vuln:CVSSScoreSets/*", NS)
        ]
        best = max((p for p in vectors if p), key=lambda p: p[1], default=None)
        row: dict[str, Any] = {
            "cve_id": cve,
            "description": _text(v, "vuln:Title"),
            "vendor_severity": worst(*severity_by_product.values()),
        }
        entry = (
            score_entry(
                version="3.1" if best[0].startswith("CVSS:3.1") else "3.0",
                vector=best[0],
                base_score=best[1],
                provider=CNA,
                source="secure@microsoft.com",
                via="msrc",
            )
            if best
            else None
        )
        if cve.upper().startswith("CVE-"):
            # MSRC advisories (ADV990001, the servicing-stack list) are no CVE records; their
            # id stays on the KBs they name.
            msrc_scores[cve] = [entry] if entry else []
            vuln_rows.append(row)
        for rem in v.findall("vuln:Remediations/vuln:Remediation", NS):
            if rem.get("Type") != "Vendor Fix":
                continue
            kb = KB_RE.match(_text(rem, "vuln:Description"))
            if not kb:
                continue
            identifier = f"KB{kb.group(1)}"
            restart = _text(rem, "vuln:RestartRequired").lower()
            subtype = _text(rem, "vuln:SubType")
            fixed_build = _text(rem, "vuln:FixedBuild")
            supersedes = kb_ids(_text(rem, "vuln:Supercedence"))
            for pid_node in rem.findall("vuln:ProductID", NS):
                pid = (pid_node.text or "").strip()
                if pid not in products:
                    continue
                fix = fixes.setdefault(
                    (identifier, pid),
                    {
                        "cves": set(),
                        "exploited": set(),
                        "supersedes": set(),
                        "severity": SeverityTier.UNKNOWN,
                        "reboot": None,
                        "subtype": subtype,
                        "fixed_build": "",
                    },
                )
                fix["cves"].add(cve)
                if exploited:
                    fix["exploited"].add(cve)
                fix["supersedes"].update(supersedes)
                fix["severity"] = worst(fix["severity"], severity_by_product.get(pid, "unknown"))
                if restart in {"yes", "maybe"}:
                    fix["reboot"] = True
                elif restart == "no" and fix["reboot"] is None:
                    fix["reboot"] = False
                if fixed_build and not fixed_build.lower().startswith("http"):
                    fix["fixed_build"] = fix["fixed_build"] or fixed_build[:200]
                fix["subtype"] = fix["subtype"] or subtype

    per_kb: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "cves": set(),
            "exploited": set(),
            "severity": "unknown",
            "reboot": False,
            "os": set(),
        }
    )
    for (identifier, pid), fix in fixes.items():
        agg = per_kb[identifier]
        agg["cves"] |= fix["cves"]
        agg["exploited"] |= fix["exploited"]
        agg["severity"] = worst(agg["severity"], fix["severity"])
        agg["reboot"] = agg["reboot"] or bool(fix["reboot"])
        agg["os"].add(os_family_of(products[pid]))
    if not per_kb:
        raise ImportFileError(f"{path.name}: no KB remediations in the document")

    counts = Counts(version=doc["id"])
    counts.newer(doc["current_release"])
    unique = {r["cve_id"]: r for r in vuln_rows}
    vuln_rows = list(unique.values())
    with_merged_scores(vuln_rows, msrc_scores, via="msrc")
    upsert(
        Vulnerability,
        vuln_rows,
        key=("cve_id",),
        counts=counts,
        table="vulnerabilities",
        fill_only=("description",),
    )
    adv_rows = []
    for identifier, agg in per_kb.items():
        families = agg["os"] - {""}
        adv_rows.append(
            {
                "source": AdvisorySource.MSRC,
                "identifier": identifier,
                "title": f"{doc['title']}: {identifier}"[:500],
                "vendor": "Microsoft",
                "release_date": doc["release_date"],
                "vendor_severity": agg["severity"],
                "reboot_required": agg["reboot"],
                "cves": sorted(agg["cves"]),
                "exploited_cves": sorted(agg["exploited"]),
                "os_family": families.pop() if len(families) == 1 else "",
                "document": doc["id"][:100],
                "url": f"https://support.microsoft.com/help/{identifier[2:]}",
            }
        )
    # A KB's release is the *first* document that names it: a later month's document may list
    # the previous month's update as the fix for some of its CVEs, and documents can be imported
    # in any order.
    stored = {
        a["identifier"]: a
        for a in Advisory.objects.filter(
            source=AdvisorySource.MSRC, identifier__in=[r["identifier"] for r in adv_rows]
        ).values("identifier", "release_date", "document", "title")
    }
    for row in adv_rows:
        old = stored.get(row["identifier"])
        if (
            old
            and old["release_date"]
            and (row["release_date"] is None or old["release_date"] <= row["release_date"])
        ):
            row.update(
                release_date=old["release_date"], document=old["document"], title=old["title"]
            )
    adv_ids = upsert(
        Advisory,
        adv_rows,
        key=("source", "identifier"),
        counts=counts,
        table="advisories",
        existing=lambda rows: Advisory.objects.filter(
            source=AdvisorySource.MSRC, identifier__in=[r["identifier"] for r in rows]
        ),
        # A KB named by several monthly documents keeps the CVEs of all of them.
        merge_arrays=("cves", "exploited_cves"),
    )
    fix_rows = []
    for (identifier, pid), fix in fixes.items():
        subtype = fix["subtype"]
        fix_rows.append(
            {
                "advisory_id": adv_ids[(AdvisorySource.MSRC, identifier)],
                "product": products[pid][:300],
                "package_name": "",
                "product_id": pid[:30],
                "os_family": os_family_of(products[pid]),
                "ecosystem": Ecosystem.WINDOWS,
                "fixed_version": fix["fixed_build"],
                "supersedes": sorted(fix["supersedes"]),
                "subtype": subtype[:60],
                "is_hotpatch": "hotpatch" in subtype.lower(),
                "reboot_required": fix["reboot"],
                "severity": fix["severity"],
                "cves": sorted(fix["cves"]),
                "exploited_cves": sorted(fix["exploited"]),
            }
        )
    upsert(
        AdvisoryFix,
        fix_rows,
        key=("advisory_id", "product", "package_name"),
        counts=counts,
        table="advisory fixes",
        existing=lambda rows: AdvisoryFix.objects.filter(
            advisory_id__in={r["advisory_id"] for r in rows}
        ),
        merge_arrays=("cves", "exploited_cves", "supersedes"),
        progress=progress,
    )
    return counts
