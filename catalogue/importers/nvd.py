"""NVD CVE API 2.0: whole response pages, or bare ``cve`` objects (one per file, or a list).

Every record is read whatever its ``vulnStatus`` (Received, Awaiting Analysis, Undergoing
Analysis, Analyzed, Modified, Deferred, Rejected): its severity comes from the best score it
carries (``catalogue.scoring``), each score tagged NVD, CNA or CISA-ADP. ``Rejected`` records
are flagged and never raise a finding. The CPE configurations become ``CpeMatch`` rows (the
vulnerable application or OS and its version bounds, with the platforms an AND configuration
requires), replaced as a whole for each record imported.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils.dateparse import parse_datetime

from ..cpe import CpeError, parse_cpe
from ..models import CpeMatch, Vulnerability
from ..scoring import derived_fields, merge_scores, provider_of_nvd_source, score_entry
from .base import Counts, ImportFileError, Progress, chunked, read_json, upsert

_METRICS = (
    ("cvssMetricV40", "4.0"),
    ("cvssMetricV31", "3.1"),
    ("cvssMetricV30", "3.0"),
    ("cvssMetricV2", "2.0"),
)
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(str(value).replace("Z", "+00:00"))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # NVD timestamps are UTC without an offset
    return parsed


def cve_objects(doc: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("vulnerabilities"), list):
        items = [v.get("cve") if isinstance(v, dict) else None for v in doc["vulnerabilities"]]
    elif isinstance(doc, dict) and "id" in doc and ("descriptions" in doc or "metrics" in doc):
        items = [doc]
    elif isinstance(doc, list):
        items = [v.get("cve", v) if isinstance(v, dict) else None for v in doc]
    else:
        raise ImportFileError(f"{name}: not an NVD CVE API 2.0 response or cve object")
    for item in items:
        if not isinstance(item, dict) or not _CVE.match(str(item.get("id", ""))):
            raise ImportFileError(f"{name}: an entry has no CVE id")
    return items


def nvd_scores(cve: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = cve.get("metrics") or {}
    cna = str(cve.get("sourceIdentifier") or "")
    out = []
    for key, version in _METRICS:
        for metric in metrics.get(key) or []:
            if not isinstance(metric, dict):
                continue
            data = metric.get("cvssData") or {}
            entry = score_entry(
                version=str(data.get("version") or version),
                vector=data.get("vectorString"),
                base_score=data.get("baseScore"),
                provider=provider_of_nvd_source(
                    str(metric.get("source") or ""), str(metric.get("type") or ""), cna
                ),
                source=str(metric.get("source") or ""),
                metric_type=str(metric.get("type") or ""),
                via="nvd",
            )
            if entry:
                out.append(entry)
    return out


def vulnerability_row(cve: dict[str, Any]) -> dict[str, Any]:
    status = str(cve.get("vulnStatus") or "")
    return {
        "cve_id": cve["id"],
        "description": next(
            (d.get("value", "") for d in cve.get("descriptions", []) if d.get("lang") == "en"), ""
        ),
        "published_at": _when(cve.get("published")),
        "last_modified_at": _when(cve.get("lastModified")),
        "nvd_status": status[:40],
        "is_rejected": status.lower() == "rejected",
        "cwes": sorted(
            {
                d.get("value", "")
                for w in cve.get("weaknesses", []) or []
                for d in w.get("description", []) or []
                if str(d.get("value", "")).startswith("CWE-")
            }
        ),
    }


def cpe_rows(cve: dict[str, Any]) -> list[dict[str, Any]]:
    """The vulnerable CPE matches of a record, with the platforms an AND configuration needs."""
    rows: dict[tuple, dict[str, Any]] = {}
    for config in cve.get("configurations") or []:
        if not isinstance(config, dict):
            continue
        nodes = config.get("nodes") or []
        matches = [
            (node, m)
            for node in nodes
            if isinstance(node, dict)
            for m in node.get("cpeMatch") or []
            if isinstance(m, dict) and m.get("criteria")
        ]
        is_and = str(config.get("operator", "")).upper() == "AND" and len(nodes) > 1
        platforms = sorted(
            {str(m["criteria"])[:500] for node, m in matches if not m.get("vulnerable")}
            if is_and
            else set()
        )
        for node, m in matches:
            if not m.get("vulnerable") or node.get("negate"):
                continue
            try:
                cpe = parse_cpe(str(m["criteria"]))
            except CpeError:
                continue
            row = {
                "cve_id": cve["id"],
                "criteria": str(m["criteria"])[:500],
                "part": cpe.part,
                "vendor": cpe.vendor[:200],
                "product": cpe.product[:200],
                "version": cpe.version[:100],
                "update": cpe.update[:100],
                "target_sw": cpe.target_sw[:100],
                "version_start_including": str(m.get("versionStartIncluding") or "")[:100],
                "version_start_excluding": str(m.get("versionStartExcluding") or "")[:100],
                "version_end_including": str(m.get("versionEndIncluding") or "")[:100],
                "version_end_excluding": str(m.get("versionEndExcluding") or "")[:100],
                "platforms": platforms,
                "match_criteria_id": str(m.get("matchCriteriaId") or "")[:60],
            }
            key = (
                row["cve_id"],
                row["criteria"],
                row["version_start_including"],
                row["version_start_excluding"],
                row["version_end_including"],
                row["version_end_excluding"],
            )
            if key in rows:
                rows[key]["platforms"] = sorted(set(rows[key]["platforms"]) | set(platforms))
            else:
                rows[key] = row
    return list(rows.values())


def with_merged_scores(
    rows: list[dict[str, Any]], incoming: dict[str, list[dict[str, Any]]], *, via: str
) -> None:
    """Fill each row's score columns from the stored scores merged with ``incoming``."""
    for chunk in chunked(rows, 5000):
        stored = dict(
            Vulnerability.objects.filter(cve_id__in=[r["cve_id"] for r in chunk]).values_list(
                "cve_id", "scores"
            )
        )
        for row in chunk:
            merged = merge_scores(stored.get(row["cve_id"]) or [], incoming[row["cve_id"]], via=via)
            row.update(derived_fields(merged))


def replace_cpe_matches(
    cve_ids: list[str], rows: list[dict[str, Any]], counts: Counts, progress: Progress | None
) -> None:
    key = (
        "cve_id",
        "criteria",
        "version_start_including",
        "version_start_excluding",
        "version_end_including",
        "version_end_excluding",
    )
    wanted = {tuple(r[k] for k in key) for r in rows}
    stale = []
    for chunk in chunked(cve_ids, 5000):
        for values in CpeMatch.objects.filter(cve_id__in=chunk).values_list("pk", *key):
            if tuple(values[1:]) not in wanted:
                stale.append(values[0])
    if stale:
        for chunk in chunked(stale, 5000):
            CpeMatch.objects.filter(pk__in=chunk).delete()
        counts.add("cpe matches", updated=len(stale))
    if rows:
        upsert(
            CpeMatch,
            rows,
            key=key,
            counts=counts,
            table="cpe matches",
            existing=lambda chunk: CpeMatch.objects.filter(cve_id__in={r["cve_id"] for r in chunk}),
            progress=progress,
        )


def import_nvd(path: Path, *, progress: Progress | None = None) -> Counts:
    doc = read_json(path)
    items = cve_objects(doc, path.name)
    if not items:
        raise ImportFileError(f"{path.name}: no CVE records")
    by_id = {c["id"]: c for c in items}  # a page may repeat a record: the last one counts
    rows = [vulnerability_row(c) for c in by_id.values()]
    with_merged_scores(rows, {i: nvd_scores(c) for i, c in by_id.items()}, via="nvd")
    counts = Counts()
    upsert(
        Vulnerability,
        rows,
        key=("cve_id",),
        counts=counts,
        table="vulnerabilities",
        merge_arrays=("cwes",),
        progress=progress,
    )
    cpes = [row for c in by_id.values() for row in cpe_rows(c)]
    replace_cpe_matches(list(by_id), cpes, counts, None)
    for row in rows:
        counts.newer(row["last_modified_at"])
    if isinstance(doc, dict):
        counts.newer(_when(doc.get("timestamp")))
        counts.version = str(doc.get("version") or "")
    return counts
