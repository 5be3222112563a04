"""FIRST EPSS daily scores, plain or gzipped, with or without the leading comment line.

Since 2022 FIRST's daily file starts ``#model_version:…,score_date:…`` and then
``cve,epss,percentile``; older files (and copies with the comment stripped) start with the
column line. Without the comment the score date comes from a ``date`` column (the EPSS API's
CSV), else from a ``YYYY-MM-DD`` in the file name (``epss_scores-2022-01-01.csv.gz``); a file
that gives neither is refused. The earliest files had no ``percentile`` column: the
percentile is then the share of the file's CVEs scoring at most as high.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..models import EpssScore
from .base import Counts, ImportFileError, Progress, read_text, upsert


def parse_header(line: str) -> tuple[str, date | None]:
    """``#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000`` → (version, date)."""
    meta = {}
    for part in line.lstrip("\ufeff#").split(","):
        name, _, value = part.partition(":")
        meta[name.strip()] = value.strip()
    score_date = None
    if meta.get("score_date"):
        raw = meta["score_date"]
        try:
            score_date = date.fromisoformat(raw[:10])
        except ValueError:
            try:
                score_date = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z").date()
            except ValueError as exc:
                raise ImportFileError(f"bad score_date {raw!r} in the EPSS header") from exc
    return meta.get("model_version", ""), score_date


def import_epss(
    path: Path, *, progress: Progress | None = None, score_date: date | None = None
) -> Counts:
    lines = read_text(path).splitlines()
    model_version, header_date = "", None
    if lines and lines[0].lstrip("\ufeff").startswith("#"):
        model_version, header_date = parse_header(lines[0])
        lines = lines[1:]
    score_date = score_date or header_date
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if reader.fieldnames:
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    if not reader.fieldnames or not {"cve", "epss"} <= set(reader.fieldnames):
        raise ImportFileError(
            f"{path.name}: not an EPSS file (expected columns cve,epss,percentile)"
        )
    records = list(reader)
    if score_date is None and "date" in reader.fieldnames and records:
        score_date = _date_of(records[0].get("date") or "")
    if score_date is None:
        found = re.search(r"(\d{4})-(\d{2})-(\d{2})", path.name)
        score_date = _date_of(found.group(0)) if found else None
    if score_date is None:
        raise ImportFileError(
            f"{path.name}: no score date: the file has no '#model_version:…,score_date:…' "
            "line, no date column, and no YYYY-MM-DD in its name"
        )
    has_percentile = "percentile" in reader.fieldnames
    rows = []
    for n, row in enumerate(records, start=2):
        try:
            score = Decimal(row["epss"])
            pct = Decimal(row["percentile"]) if has_percentile else Decimal(0)
        except (InvalidOperation, TypeError) as exc:
            raise ImportFileError(f"{path.name} line {n}: bad score {row}") from exc
        if not (0 <= score <= 1 and 0 <= pct <= 1) or not str(row["cve"]).startswith("CVE-"):
            raise ImportFileError(f"{path.name} line {n}: out of range or not a CVE: {row}")
        rows.append(
            {
                "cve_id": row["cve"].strip(),
                "score": score,
                "percentile": pct,
                "score_date": score_date,
                "model_version": model_version[:40],
            }
        )
    if not rows:
        raise ImportFileError(f"{path.name}: no scores")
    if not has_percentile:
        ordered = sorted(r["score"] for r in rows)
        for r in rows:
            at_most = bisect.bisect_right(ordered, r["score"])
            r["percentile"] = (Decimal(at_most) / len(ordered)).quantize(Decimal("0.00001"))
    # An older file never overwrites a newer score.
    newer = set(
        EpssScore.objects.filter(score_date__gt=score_date).values_list("cve_id", flat=True)
    )
    counts = Counts()
    if newer:
        counts.add("epss scores", unchanged=sum(1 for r in rows if r["cve_id"] in newer))
        rows = [r for r in rows if r["cve_id"] not in newer]
    upsert(EpssScore, rows, key=("cve_id",), counts=counts, table="epss scores", progress=progress)
    counts.as_of = datetime.combine(score_date, time.min, tzinfo=UTC)
    counts.version = model_version
    return counts


def _date_of(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None
