"""CISA Known Exploited Vulnerabilities: the JSON feed or its CSV twin (detected from content).

KEV is a snapshot of a living catalogue. Each import is compared with the newest snapshot
already imported, by ``catalogVersion`` (JSON), else ``dateReleased``, else the newest
``dateAdded`` (the CSV carries neither version nor release date):

* a **newer or the same** snapshot is the catalogue: entries it lists are written (a
  re-listed entry loses its removal date), and entries it no longer lists are marked removed
  with the snapshot's date (kept, visible in the API, no longer raising tiers);
* an **older** snapshot is refused with the dates of both, unless ``force``; even forced it
  only adds CVEs the catalogue has never seen, and never overwrites or removes anything.

Column layouts: every layout CISA has published since the 2021 launch reads: the eight launch
columns (``cveID, vendorProject, product, vulnerabilityName, dateAdded, shortDescription,
requiredAction, dueDate``), ``notes`` (2022), ``knownRansomwareCampaignUse`` (late 2022) and
``cwes`` (2024), in any order, with or without a byte-order mark, and with the spelled-out
headings of the catalogue page's own export ("CVE", "Vendor/Project", "Date Added to
Catalog"…). Dates are ISO (``2021-11-03``) or US (``11/3/2021``). A file without a CVE id,
date-added or due-date column is refused, naming the columns it has.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from django.utils.dateparse import parse_datetime

from ..models import CatalogueImport, KevEntry
from .base import Counts, ImportFileError, Progress, read_text, upsert

__all__ = ["import_kev", "Snapshot", "read_snapshot", "FIELD_ALIASES"]

# Normalised heading (lower case, letters and digits only) → JSON field name.
FIELD_ALIASES: dict[str, str] = {
    "cveid": "cveID",
    "cve": "cveID",
    "cvenumber": "cveID",
    "vendorproject": "vendorProject",
    "vendor": "vendorProject",
    "product": "product",
    "vulnerabilityname": "vulnerabilityName",
    "name": "vulnerabilityName",
    "dateadded": "dateAdded",
    "dateaddedtocatalog": "dateAdded",
    "shortdescription": "shortDescription",
    "description": "shortDescription",
    "requiredaction": "requiredAction",
    "action": "requiredAction",
    "duedate": "dueDate",
    "knownransomwarecampaignuse": "knownRansomwareCampaignUse",
    "knownransomware": "knownRansomwareCampaignUse",
    "ransomware": "knownRansomwareCampaignUse",
    "notes": "notes",
    "additionalnotes": "notes",
    "cwes": "cwes",
    "cwe": "cwes",
}
REQUIRED = ("cveID", "dateAdded", "dueDate")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)


class Snapshot:
    """What a KEV file says of itself: version, release time, newest addition, entries."""

    def __init__(
        self,
        *,
        items: list[dict[str, Any]],
        version: str = "",
        released: datetime | None = None,
    ) -> None:
        self.items = items
        self.version = version
        self.released = released
        self.newest_added: date | None = None

    @property
    def as_of(self) -> datetime | None:
        if self.released is not None:
            return self.released
        if self.newest_added is not None:
            return datetime.combine(self.newest_added, time.min, tzinfo=UTC)
        return None

    @property
    def as_of_date(self) -> date | None:
        return self.as_of.date() if self.as_of else None

    def describe(self) -> str:
        parts = []
        if self.version:
            parts.append(f"catalogVersion {self.version}")
        if self.released:
            parts.append(f"released {self.released:%Y-%m-%d %H:%M} UTC")
        if self.newest_added:
            parts.append(f"newest dateAdded {self.newest_added.isoformat()}")
        return ", ".join(parts) or "no date"


def _version_key(version: str) -> tuple[int, ...] | None:
    numbers = re.findall(r"\d+", version or "")
    return tuple(int(n) for n in numbers) if numbers else None


def is_older(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether snapshot ``new`` predates ``old`` (both as stored in an import's details)."""
    nv, ov = (
        _version_key(new.get("catalog_version", "")),
        _version_key(old.get("catalog_version", "")),
    )
    if nv is not None and ov is not None and nv != ov:
        return nv < ov
    nr, orr = new.get("date_released"), old.get("date_released")
    if nr and orr and nr != orr:
        return nr < orr
    na, oa = new.get("newest_date_added"), old.get("newest_date_added")
    if na and oa:
        return na < oa
    return False


def _date(value: Any, cve: str, name: str) -> date:
    text = str(value or "").strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    m = _US_DATE.match(text)
    if m:
        month, day, year = (int(g) for g in m.groups())
        try:
            return date(year, month, day)
        except ValueError:
            pass
    raise ImportFileError(f"{cve}: {name} {value!r} is not a date (YYYY-MM-DD)")


def _heading(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lstrip("\ufeff").lower())


def read_snapshot(text: str, name: str) -> Snapshot:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"{name}: not valid JSON ({exc.msg})") from exc
        items = doc.get("vulnerabilities") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ImportFileError(f"{name}: not a CISA KEV catalogue (no 'vulnerabilities' list)")
        released = None
        if isinstance(doc, dict) and doc.get("dateReleased"):
            released = parse_datetime(str(doc["dateReleased"]).replace("Z", "+00:00"))
            if released is not None and released.tzinfo is None:
                released = released.replace(tzinfo=UTC)
        version = str(doc.get("catalogVersion") or "") if isinstance(doc, dict) else ""
        rows = []
        for item in items:
            if not isinstance(item, dict):
                raise ImportFileError(f"{name}: an entry is not an object")
            rows.append({FIELD_ALIASES.get(_heading(k), k): v for k, v in item.items()})
        return Snapshot(items=rows, version=version, released=released)
    reader = csv.DictReader(io.StringIO(stripped))
    headings = reader.fieldnames or []
    mapped = {h: FIELD_ALIASES.get(_heading(h)) for h in headings}
    missing = [f for f in REQUIRED if f not in mapped.values()]
    if missing:
        found = ", ".join(h for h in headings if h) or "none"
        raise ImportFileError(
            f"{name}: not a CISA KEV catalogue: no {', '.join(missing)} column "
            f"(JSON, or CSV with columns {', '.join(REQUIRED)}…; the file has: {found[:300]})"
        )
    rows = []
    for row in reader:
        entry = {mapped[h]: v for h, v in row.items() if h in mapped and mapped[h]}
        cwes = entry.get("cwes") or ""
        entry["cwes"] = [c.strip() for c in re.split(r"[,;]", cwes) if c.strip()]
        rows.append(entry)
    return Snapshot(items=rows)


def _rows(snapshot: Snapshot, name: str) -> list[dict[str, Any]]:
    rows = []
    seen: set[str] = set()
    for item in snapshot.items:
        cve = str(item.get("cveID") or "").strip().upper()
        if not _CVE.match(cve):
            raise ImportFileError(f"{name}: an entry has no valid cveID ({cve or 'empty'})")
        if cve in seen:
            continue
        seen.add(cve)
        added = _date(item.get("dateAdded"), cve, "dateAdded")
        due = _date(item.get("dueDate"), cve, "dueDate")
        cwes = item.get("cwes") or []
        if isinstance(cwes, str):
            cwes = [c.strip() for c in re.split(r"[,;]", cwes) if c.strip()]
        rows.append(
            {
                "cve_id": cve,
                "vendor": str(item.get("vendorProject") or "")[:200],
                "product": str(item.get("product") or "")[:200],
                "name": str(item.get("vulnerabilityName") or "")[:500],
                "short_description": str(item.get("shortDescription") or ""),
                "date_added": added,
                "due_date": due,
                "known_ransomware": str(item.get("knownRansomwareCampaignUse") or "")
                .strip()
                .lower()
                == "known",
                "required_action": str(item.get("requiredAction") or ""),
                "notes": str(item.get("notes") or ""),
                "cwes": sorted({str(c).strip() for c in cwes if str(c).strip()}),
                "is_overdue_on_add": due < added,
                "removed_on": None,
            }
        )
    return rows


def newest_snapshot() -> dict[str, Any] | None:
    """The newest KEV snapshot imported so far (as stored in its import's details)."""
    best = None
    for details in CatalogueImport.objects.filter(kind="kev", status="succeeded").values_list(
        "details", flat=True
    ):
        snap = (details or {}).get("notes", {}).get("snapshot")
        if snap and not snap.get("older") and (best is None or is_older(best, snap)):
            best = snap
    return best


def import_kev(path: Path, *, progress: Progress | None = None, force: bool = False) -> Counts:
    snapshot = read_snapshot(read_text(path), path.name)
    rows = _rows(snapshot, path.name)
    if not rows:
        raise ImportFileError(f"{path.name}: the catalogue lists no vulnerabilities")
    snapshot.newest_added = max(r["date_added"] for r in rows)
    stored = newest_snapshot()
    meta = {
        "catalog_version": snapshot.version,
        "date_released": snapshot.released.isoformat() if snapshot.released else "",
        "newest_date_added": snapshot.newest_added.isoformat(),
        "count": len(rows),
    }
    counts = Counts(version=snapshot.version)
    counts.as_of = snapshot.as_of
    older = stored is not None and is_older(meta, stored)
    if older and not force:
        raise ImportFileError(
            f"{path.name}: this KEV snapshot ({snapshot.describe()}) is older than the one "
            f"already imported ({_describe(stored)}); importing it would undo newer facts. "
            "Import the current catalogue, or give --force to add only the CVEs the catalogue "
            "has never seen"
        )
    if older:
        known = set(KevEntry.objects.values_list("cve_id", flat=True))
        fresh = [r for r in rows if r["cve_id"] not in known]
        counts.add("kev entries", unchanged=len(rows) - len(fresh))
        upsert(KevEntry, fresh, key=("cve_id",), counts=counts, table="kev entries")
        meta["older"] = True
        counts.notes = {
            "snapshot": meta,
            "messages": [
                f"Older snapshot ({snapshot.describe()}) forced: {len(fresh)} unseen CVE(s) "
                "added, nothing overwritten or removed."
            ],
        }
        return counts
    upsert(KevEntry, rows, key=("cve_id",), counts=counts, table="kev entries", progress=progress)
    listed = {r["cve_id"] for r in rows}
    removed_on = snapshot.as_of_date
    gone = KevEntry.objects.listed().exclude(cve_id__in=listed)
    removed = sorted(gone.values_list("cve_id", flat=True))
    if removed:
        gone.update(removed_on=removed_on)
        counts.add("kev entries", updated=len(removed))
    messages = []
    if removed:
        shown = ", ".join(removed[:10]) + (" …" if len(removed) > 10 else "")
        messages.append(f"{len(removed)} entr(y/ies) no longer listed, marked removed: {shown}")
    counts.notes = {"snapshot": meta, "removed": removed, "messages": messages}
    return counts


def _describe(meta: dict[str, Any]) -> str:
    parts = []
    if meta.get("catalog_version"):
        parts.append(f"catalogVersion {meta['catalog_version']}")
    if meta.get("date_released"):
        parts.append(f"released {meta['date_released'][:16].replace('T', ' ')} UTC")
    if meta.get("newest_date_added"):
        parts.append(f"newest dateAdded {meta['newest_date_added']}")
    return ", ".join(parts) or "no date"
