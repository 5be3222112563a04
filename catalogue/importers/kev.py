"""CISA Known Exploited Vulnerabilities: the JSON feed or its CSV twin (detected from content)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from ..models import KevEntry
from .base import Counts, ImportFileError, Progress, read_text, upsert

COLUMNS = {"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded", "dueDate"}


def _date(value: Any, cve: str, name: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ImportFileError(f"{cve}: {name} {value!r} is not a YYYY-MM-DD date") from exc


def _entries(text: str, name: str) -> list[dict[str, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"{name}: not valid JSON ({exc.msg})") from exc
        items = doc.get("vulnerabilities") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ImportFileError(f"{name}: not a CISA KEV catalogue (no 'vulnerabilities' list)")
        return items
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not set(reader.fieldnames) >= COLUMNS:
        raise ImportFileError(
            f"{name}: not a CISA KEV catalogue (JSON, or CSV with columns {sorted(COLUMNS)})"
        )
    rows = []
    for row in reader:
        cwes = row.get("cwes") or ""
        row["cwes"] = [c.strip() for c in cwes.split(",") if c.strip()]
        rows.append(row)
    return rows


def import_kev(path: Path, *, progress: Progress | None = None) -> Counts:
    items = _entries(read_text(path), path.name)
    if not items:
        raise ImportFileError(f"{path.name}: the catalogue lists no vulnerabilities")
    rows = []
    for item in items:
        if not isinstance(item, dict) or not str(item.get("cveID", "")).startswith("CVE-"):
            raise ImportFileError(f"{path.name}: an entry has no cveID")
        cve = item["cveID"].strip()
        added = _date(item.get("dateAdded"), cve, "dateAdded")
        due = _date(item.get("dueDate"), cve, "dueDate")
        rows.append(
            {
                "cve_id": cve,
                "vendor": str(item.get("vendorProject") or "")[:200],
                "product": str(item.get("product") or "")[:200],
                "name": str(item.get("vulnerabilityName") or "")[:500],
                "short_description": str(item.get("shortDescription") or ""),
                "date_added": added,
                "due_date": due,
                "known_ransomware": str(item.get("knownRansomwareCampaignUse", "")).lower()
                == "known",
                "required_action": str(item.get("requiredAction") or ""),
                "notes": str(item.get("notes") or ""),
                "cwes": sorted(str(c) for c in (item.get("cwes") or []) if c),
                "is_overdue_on_add": due < added,
            }
        )
    counts = Counts()
    upsert(KevEntry, rows, key=("cve_id",), counts=counts, table="kev entries", progress=progress)
    return counts
