"""The team's own numbers, week by week: per client and across the MSP, this week against the
week before — compliance, exception aging, patch failure rate, after-hours tickets and the time
to fix of failure and breach tickets (per engineer too).

Every client figure comes from the compliance engine (``compliance.engine.compute`` for the
week's instant and period, ``engine.time_to_fix`` for the tickets), inside the client's schema.
A client's week runs Monday 00:00 to the next Monday 00:00 in its own time zone; a week that is
not over yet is measured up to now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from compliance import engine
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


def week_bounds(client: Client, day: date) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of the week holding ``day``, in the client's zone."""
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(0, 0), tzinfo=client.tz)
    end = datetime.combine(monday + timedelta(days=7), time(0, 0), tzinfo=client.tz)
    return start, end


@dataclass
class WeekFigures:
    """One week's figures of one client (or summed over several)."""

    start: datetime | None
    end: datetime | None
    compliant: int = 0
    in_scope: int = 0
    not_reporting: int = 0
    exceptions_active: int = 0
    exceptions_max_aging_days: int | None = None
    exceptions_min_days_left: int | None = None
    deployments_failed: int = 0
    deployments_attempted: int = 0
    after_hours_tickets: int = 0
    time_to_fix: engine.TimeToFix = field(default_factory=engine.TimeToFix)
    time_to_fix_by_engineer: dict[str, engine.TimeToFix] = field(default_factory=dict)

    @property
    def compliance_pct(self) -> Decimal | None:
        return engine.pct(self.compliant, self.in_scope)

    @property
    def failure_rate_pct(self) -> Decimal | None:
        return engine.pct(self.deployments_failed, self.deployments_attempted)

    def __add__(self, other: WeekFigures) -> WeekFigures:
        engineers = dict(self.time_to_fix_by_engineer)
        for who, ttf in other.time_to_fix_by_engineer.items():
            engineers[who] = engineers.get(who, engine.TimeToFix()) + ttf
        return WeekFigures(
            start=None,
            end=None,
            compliant=self.compliant + other.compliant,
            in_scope=self.in_scope + other.in_scope,
            not_reporting=self.not_reporting + other.not_reporting,
            exceptions_active=self.exceptions_active + other.exceptions_active,
            exceptions_max_aging_days=_pick(
                max, self.exceptions_max_aging_days, other.exceptions_max_aging_days
            ),
            exceptions_min_days_left=_pick(
                min, self.exceptions_min_days_left, other.exceptions_min_days_left
            ),
            deployments_failed=self.deployments_failed + other.deployments_failed,
            deployments_attempted=self.deployments_attempted + other.deployments_attempted,
            after_hours_tickets=self.after_hours_tickets + other.after_hours_tickets,
            time_to_fix=self.time_to_fix + other.time_to_fix,
            time_to_fix_by_engineer=dict(sorted(engineers.items())),
        )


def _pick(how, a: int | None, b: int | None) -> int | None:
    values = [v for v in (a, b) if v is not None]
    return how(values) if values else None


def week_figures(client: Client, start: datetime, end: datetime) -> WeekFigures:
    """The week [start, end) of ``client`` (measured at ``end``, or now while it runs)."""
    at = min(end, timezone.now())
    with tenant_context(client):
        figures = engine.compute(client=client, at=at, start=start)
        ttf, by_engineer = engine.time_to_fix(start, at)
    return WeekFigures(
        start=start,
        end=end,
        compliant=figures.compliance.client.numerator,
        in_scope=figures.compliance.client.denominator,
        not_reporting=figures.not_reporting,
        exceptions_active=figures.exceptions.active,
        exceptions_max_aging_days=figures.exceptions.max_aging_days,
        exceptions_min_days_left=figures.exceptions.min_days_left,
        deployments_failed=figures.deployments_failed,
        deployments_attempted=figures.deployments_attempted,
        after_hours_tickets=figures.after_hours_tickets,
        time_to_fix=ttf,
        time_to_fix_by_engineer=by_engineer,
    )


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


def weekly_review(clients: Iterable[Client], day: date) -> WeeklyReview:
    """The week holding ``day`` and the week before, for each of ``clients`` (the caller passes
    only the clients the viewer may see), their MSP-wide sums and the per-engineer rows."""
    rows: list[ClientWeek] = []
    for client in clients:
        start, end = week_bounds(client, day)
        rows.append(
            ClientWeek(
                client=client,
                this=week_figures(client, start, end),
                last=week_figures(client, start - timedelta(days=7), start),
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
