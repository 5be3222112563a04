"""How current each catalogue is: the as-of date of its data and its age.

The as-of date is what the imported data says of itself (KEV ``dateReleased``, the newest MSRC
document's ``CurrentReleaseDate``, the EPSS score date, the newest NVD / CVE / OSV
modification), the latest over every successful import of that kind; the import time is shown
beside it. A KEV or MSRC catalogue older than its configured age (``CATALOGUE_MAX_AGE_DAYS``:
KEV 7 days, MSRC 35 days unless set) is *stale*: the dashboard warns about it, and every
report's footnote states each catalogue's as-of date and age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from .choices import ImportKind, ImportStatus
from .models import CatalogueImport

__all__ = ["CatalogueState", "catalogue_freshness", "stale_catalogues", "max_age_days"]

DEFAULT_MAX_AGE_DAYS = {ImportKind.KEV: 7, ImportKind.MSRC: 35}


def max_age_days() -> dict[str, int]:
    configured = getattr(settings, "CATALOGUE_MAX_AGE_DAYS", None) or {}
    return {**DEFAULT_MAX_AGE_DAYS, **{k: int(v) for k, v in configured.items()}}


@dataclass(frozen=True)
class CatalogueState:
    kind: str
    label: str
    as_of: datetime | None
    imported_at: datetime | None
    version: str
    file_name: str
    imports: int
    age_days: int | None
    max_age_days: int | None

    @property
    def is_stale(self) -> bool:
        if self.max_age_days is None:
            return False
        return self.as_of is None or (self.age_days or 0) > self.max_age_days

    @property
    def is_empty(self) -> bool:
        return self.imports == 0

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "age_days": self.age_days,
            "imported_at": self.imported_at.isoformat() if self.imported_at else None,
            "version": self.version,
            "file_name": self.file_name,
            "imports": self.imports,
            "max_age_days": self.max_age_days,
            "is_stale": self.is_stale,
        }


def catalogue_freshness(*, now: datetime | None = None) -> list[CatalogueState]:
    """One state per catalogue kind, in a fixed order (two queries)."""
    now = now or timezone.now()
    limits = max_age_days()
    ok = CatalogueImport.objects.filter(status=ImportStatus.SUCCEEDED)
    agg = {
        row["kind"]: row
        for row in ok.values("kind").annotate(
            as_of=Max("as_of"), imported_at=Max("finished_at"), n=Count("pk")
        )
    }
    latest: dict[str, CatalogueImport] = {}
    for record in ok.order_by("kind", "-finished_at").distinct("kind"):
        latest[record.kind] = record
    out = []
    for kind, label in ImportKind.choices:
        row = agg.get(kind) or {}
        as_of = row.get("as_of")
        record = latest.get(kind)
        out.append(
            CatalogueState(
                kind=kind,
                label=str(label),
                as_of=as_of,
                imported_at=row.get("imported_at"),
                version=record.version if record else "",
                file_name=record.file_name if record else "",
                imports=row.get("n", 0),
                age_days=(now - as_of).days if as_of else None,
                max_age_days=limits.get(kind),
            )
        )
    return out


def stale_catalogues(*, now: datetime | None = None) -> list[CatalogueState]:
    """KEV / MSRC catalogues older than their configured age (or never imported)."""
    return [s for s in catalogue_freshness(now=now) if s.is_stale]
