"""FIRST EPSS daily scores: ``#model_version:…,score_date:…`` then ``cve,epss,percentile``."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..models import EpssScore
from .base import Counts, ImportFileError, Progress, read_text, upsert


def parse_header(line: str) -> tuple[str, date | None]:
    """``#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000`` → (version, date)."""
    meta = {}
    for part in line.lstrip("#").split(","):
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
    if lines and lines[0].startswith("#"):
        model_version, header_date = parse_header(lines[0])
        lines = lines[1:]
    score_date = score_date or header_date
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if not reader.fieldnames or not {"cve", "epss", "percentile"} <= set(reader.fieldnames):
        raise ImportFileError(
            f"{path.name}: not an EPSS file (expected columns cve,epss,percentile)"
        )
    if score_date is None:
        raise ImportFileError(f"{path.name}: no score_date in the header line")
    rows = []
    for n, row in enumerate(reader, start=2):
        try:
            score, pct = Decimal(row["epss"]), Decimal(row["percentile"])
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
    # An older file never overwrites a newer score.
    newer = set(
        EpssScore.objects.filter(score_date__gt=score_date).values_list("cve_id", flat=True)
    )
    counts = Counts()
    if newer:
        counts.add("epss scores", unchanged=sum(1 for r in rows if r["cve_id"] in newer))
        rows = [r for r in rows if r["cve_id"] not in newer]
    upsert(EpssScore, rows, key=("cve_id",), counts=counts, table="epss scores", progress=progress)
    return counts
