"""CVE JSON 5 records (5.0 and 5.1): the CNA's and ADPs' scores, CWEs and SSVC Exploitation.

Scores are read from every ``metrics`` entry of the ``cna`` container and of each ``adp``
container (``cvssV4_0``, ``cvssV3_1``, ``cvssV3_0``, ``cvssV2_0``), each tagged CNA,
CISA-ADP or the ADP's short name (``catalogue.scoring``). CWEs come from ``problemTypes`` of
the same containers (``cweId``, or a ``CWE-nnn`` at the start of a 5.0 description). A record
whose ``cveMetadata.state`` is ``REJECTED`` is kept as rejected and never raises a finding.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..choices import SsvcExploitation
from ..models import Vulnerability
from ..scoring import CISA_ADP, CNA, score_entry
from .base import Counts, ImportFileError, Progress, read_json, upsert
from .nvd import _when, with_merged_scores

_METRIC_KEYS = (("cvssV4_0", "4.0"), ("cvssV3_1", "3.1"), ("cvssV3_0", "3.0"), ("cvssV2_0", "2.0"))
_CWE = re.compile(r"\bCWE-\d+\b")


def _containers(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(provider, container): the CNA's, then each ADP's (CISA-ADP, or ``ADP <shortName>``)."""
    containers = record.get("containers") or {}
    out = [(CNA, containers.get("cna") or {})]
    for adp in containers.get("adp") or []:
        if not isinstance(adp, dict):
            continue
        name = str((adp.get("providerMetadata") or {}).get("shortName") or "")
        out.append((CISA_ADP if name.upper() == CISA_ADP else f"ADP {name}".strip(), adp))
    return out


def _metrics(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m
        for _provider, container in _containers(record)
        for m in container.get("metrics") or []
        if isinstance(m, dict)
    ]


def ssvc_exploitation(record: dict[str, Any]) -> str:
    for metric in _metrics(record):
        other = metric.get("other") or {}
        if str(other.get("type", "")).lower() != "ssvc":
            continue
        for option in (other.get("content") or {}).get("options", []) or []:
            for name, value in option.items():
                if name.lower() == "exploitation":
                    value = str(value).strip().lower()
                    if value in SsvcExploitation.values:
                        return value
    return SsvcExploitation.UNKNOWN


def record_scores(record: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for provider, container in _containers(record):
        source = str((container.get("providerMetadata") or {}).get("shortName") or "")
        for metric in container.get("metrics") or []:
            if not isinstance(metric, dict):
                continue
            for key, version in _METRIC_KEYS:
                data = metric.get(key)
                if not isinstance(data, dict):
                    continue
                entry = score_entry(
                    version=str(data.get("version") or version),
                    vector=data.get("vectorString"),
                    base_score=data.get("baseScore"),
                    provider=provider,
                    source=source,
                    via="cve5",
                )
                if entry:
                    out.append(entry)
    return out


def record_cwes(record: dict[str, Any]) -> list[str]:
    found: set[str] = set()
    for _provider, container in _containers(record):
        for problem in container.get("problemTypes") or []:
            for desc in (problem or {}).get("descriptions") or []:
                if not isinstance(desc, dict):
                    continue
                cwe = str(desc.get("cweId") or "")
                if _CWE.fullmatch(cwe):
                    found.add(cwe)
                elif m := _CWE.match(str(desc.get("description") or "")):
                    found.add(m.group(0))
    return sorted(found)


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    meta = record.get("cveMetadata") or {}
    cve = str(meta.get("cveId") or "")
    if record.get("dataType") != "CVE_RECORD" or not cve.startswith("CVE-"):
        raise ImportFileError("not a CVE JSON 5 record (dataType CVE_RECORD with cveMetadata)")
    cna = (record.get("containers") or {}).get("cna") or {}
    rejected = str(meta.get("state") or "").upper() == "REJECTED"
    texts = cna.get("rejectedReasons") if rejected else cna.get("descriptions")
    return {
        "cve_id": cve,
        "description": next(
            (
                d.get("value", "")
                for d in texts or []
                if isinstance(d, dict) and str(d.get("lang", ""))[:2] == "en"
            ),
            "",
        ),
        "published_at": _when(meta.get("datePublished")),
        "ssvc_exploitation": ssvc_exploitation(record),
        "cwes": record_cwes(record),
        "is_rejected": rejected,
    }


def import_cve5(path: Path, *, progress: Progress | None = None) -> Counts:
    files = sorted(path.glob("**/CVE-*.json")) if path.is_dir() else [path]
    if not files:
        raise ImportFileError(f"{path}: no CVE-*.json records")
    rows: dict[str, dict[str, Any]] = {}
    scores: dict[str, list[dict[str, Any]]] = {}
    counts = Counts()
    for f in files:
        doc = read_json(f)
        records = doc if isinstance(doc, list) else [doc]
        for record in records:
            try:
                row = record_row(record if isinstance(record, dict) else {})
            except ImportFileError as exc:
                raise ImportFileError(f"{f.name}: {exc}") from exc
            rows[row["cve_id"]] = row
            scores[row["cve_id"]] = record_scores(record)
            meta = record.get("cveMetadata") or {}
            counts.newer(_when(meta.get("dateUpdated") or meta.get("datePublished")))
    row_list = list(rows.values())
    with_merged_scores(row_list, scores, via="cve5")
    upsert(
        Vulnerability,
        row_list,
        key=("cve_id",),
        counts=counts,
        table="vulnerabilities",
        merge_arrays=("cwes",),
        # NVD owns the text and dates; a CVE 5 record fills them only while NVD has not.
        fill_only=("description", "published_at"),
        progress=progress,
    )
    return counts
