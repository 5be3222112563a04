"""The team's own numbers, week by week: per client and across the MSP, this week against the
week before — compliance, exception aging, patch failure rate, after-hours tickets and the time
to fix of failure and breach tickets (per engineer too).

Every client figure comes from its weekly rollup (``scorecards.weekly``: the compliance
engine's figures for the week, stored per client and week in the public schema), so the review
costs the same queries whatever the number of clients. A client's week runs Monday 00:00 to the
next Monday 00:00 in its own time zone; a week that is not over yet is measured when its rollup
was last written (hourly); a week no rollup holds yet is marked missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from compliance import engine
from scorecards.weekly import (
    WeekFigures,
    measure_week,
    monday_of,
    read_weekly_rollups,
    week_bounds,
)
from tenants.models import Client

__all__ = [
    "WeekFigures",
    "ClientWeek",
    "EngineerWeek",
    "WeeklyReview",
    "week_bounds",
    "week_figures",
    "weekly_review",
]

# The engine's figures of one client's week, computed in its schema (what a rollup stores).
week_figures = measure_week


def _delta(this: Decimal | float | int | None, last: Decimal | float | int | None):
    if this is None or last is None:
        return None
    return this - last


@dataclass
class ClientWeek:
    client: Client
    this: WeekFigures
    last: WeekFigures

    @property
    def compliance_change(self) -> Decimal | None:
        return _delta(self.this.compliance_pct, self.last.compliance_pct)

    @property
    def failure_rate_change(self) -> Decimal | None:
        return _delta(self.this.failure_rate_pct, self.last.failure_rate_pct)

    @property
    def after_hours_change(self) -> int:
        return self.this.after_hours_tickets - self.last.after_hours_tickets

    @property
    def time_to_fix_change(self) -> float | None:
        value = _delta(self.this.time_to_fix.median_hours, self.last.time_to_fix.median_hours)
        return round(value, 2) if value is not None else None


@dataclass
class EngineerWeek:
    """One resolver's time to fix this week and last, and this week's per client."""

    engineer: str
    this: engine.TimeToFix
    last: engine.TimeToFix
    by_client: list[tuple[Client, engine.TimeToFix]]


@dataclass
class WeeklyReview:
    day: date
    rows: list[ClientWeek]
    msp: ClientWeek | None
    engineers: list[EngineerWeek]


def _missing(start, end) -> WeekFigures:
    return WeekFigures(start=start, end=end, missing=True)


def weekly_review(clients: Iterable[Client], day: date) -> WeeklyReview:
    """The week holding ``day`` and the week before, for each of ``clients`` (the caller passes
    only the clients the viewer may see), their MSP-wide sums and the per-engineer rows."""
    clients = list(clients)
    monday = monday_of(day)
    stored = read_weekly_rollups(clients, [monday, monday - timedelta(days=7)])
    rows: list[ClientWeek] = []
    for client in clients:
        start, end = week_bounds(client, day)
        before = start - timedelta(days=7)
        rows.append(
            ClientWeek(
                client=client,
                this=stored.get((client.pk, monday)) or _missing(start, end),
                last=stored.get((client.pk, before.date())) or _missing(before, start),
            )
        )
    msp = None
    if rows:
        this = sum((r.this for r in rows[1:]), rows[0].this)
        last = sum((r.last for r in rows[1:]), rows[0].last)
        msp = ClientWeek(client=None, this=this, last=last)  # type: ignore[arg-type]
    names = sorted(
        {who for r in rows for who in r.this.time_to_fix_by_engineer}
        | {who for r in rows for who in r.last.time_to_fix_by_engineer}
    )
    engineers = [
        EngineerWeek(
            engineer=who,
            this=msp.this.time_to_fix_by_engineer.get(who, engine.TimeToFix()),
            last=msp.last.time_to_fix_by_engineer.get(who, engine.TimeToFix()),
            by_client=[
                (r.client, r.this.time_to_fix_by_engineer[who])
                for r in rows
                if who in r.this.time_to_fix_by_engineer
            ],
        )
        for who in names
        if msp is not None
    ]
    return WeeklyReview(day=day, rows=rows, msp=msp, engineers=engineers)
