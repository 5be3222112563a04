"""Weekly rollups (public schema): one row per client per week, for the weekly review and its
Monday digest, so they read rows and never every client's schema in a request.

A client's week runs Monday 00:00 to the next Monday 00:00 in its own time zone. Its figures
come from the compliance engine inside the client's schema (``compliance.engine.compute`` for
the week's instant and period, ``engine.time_to_fix`` for the tickets), measured at the week's
end — or at the moment of writing while the week runs (then the row is rewritten until the week
is over). The hourly task ``scorecards.write_weekly_rollups`` writes the week that closed and
refreshes the running one; ``manage.py weekly_rollups`` back-fills.
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

from .models import WeeklyRollup

__all__ = [
    "WeekFigures",
    "week_bounds",
    "monday_of",
    "measure_week",
    "write_weekly_rollup",
    "write_due_weekly_rollups",
    "ensure_weekly_rollups",
    "read_weekly_rollups",
    "figures_of",
]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_bounds(client: Client, day: date) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of the week holding ``day``, in the client's zone."""
    monday = monday_of(day)
    start = datetime.combine(monday, time(0, 0), tzinfo=client.tz)
    end = datetime.combine(monday + timedelta(days=7), time(0, 0), tzinfo=client.tz)
    return start, end


def _pick(how, a: int | None, b: int | None) -> int | None:
    values = [v for v in (a, b) if v is not None]
    return how(values) if values else None


@dataclass
class WeekFigures:
    """One week's figures of one client (or summed over several). ``measured_at`` is None on a
    sum; ``missing`` marks a week no rollup holds yet (its figures are zeros, not measured)."""

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
    measured_at: datetime | None = None
    missing: bool = False

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
            missing=self.missing or other.missing,
        )


def measure_week(
    client: Client, start: datetime, end: datetime, *, at: datetime | None = None
) -> WeekFigures:
    """The week [start, end) of ``client`` from the engine, inside its schema (measured at
    ``end``, or at ``at`` — default now — while the week runs)."""
    at = min(end, at or timezone.now())
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
        measured_at=at,
    )


def write_weekly_rollup(client: Client, day: date, *, at: datetime | None = None) -> WeeklyRollup:
    """Measure the week holding ``day`` for ``client`` and store it (one row per client and
    week, rewritten when measured again). A week that has not begun is refused."""
    at = at or timezone.now()
    start, end = week_bounds(client, day)
    if start > at:
        raise ValueError(f"The week of {start.date().isoformat()} has not begun.")
    week = measure_week(client, start, end, at=at)
    row, _ = WeeklyRollup.objects.update_or_create(
        client=client,
        week_start=start.date(),
        defaults={
            "start": start,
            "end": end,
            "measured_at": week.measured_at,
            "compliant": week.compliant,
            "in_scope": week.in_scope,
            "not_reporting": week.not_reporting,
            "exceptions_active": week.exceptions_active,
            "exceptions_max_aging_days": week.exceptions_max_aging_days,
            "exceptions_min_days_left": week.exceptions_min_days_left,
            "deployments_failed": week.deployments_failed,
            "deployments_attempted": week.deployments_attempted,
            "after_hours_tickets": week.after_hours_tickets,
            "time_to_fix_hours": list(week.time_to_fix.hours),
            "time_to_fix_by_engineer": {
                who: list(ttf.hours) for who, ttf in week.time_to_fix_by_engineer.items()
            },
        },
    )
    return row


def write_due_weekly_rollups(client: Client, *, at: datetime | None = None) -> list[date]:
    """What the hourly task does for one client: store the week that closed (in the client's
    zone) unless a final row holds it, and measure the running week again. Returns the
    Mondays written."""
    at = at or timezone.now()
    today = at.astimezone(client.tz).date()
    this_monday = monday_of(today)
    last_monday = this_monday - timedelta(days=7)
    final = WeeklyRollup.objects.filter(client=client, week_start=last_monday).first()
    written = []
    if final is None or not final.is_final:
        write_weekly_rollup(client, last_monday, at=at)
        written.append(last_monday)
    write_weekly_rollup(client, this_monday, at=at)
    written.append(this_monday)
    return written


def ensure_weekly_rollups(
    clients: Iterable[Client], mondays: Iterable[date], *, at: datetime | None = None
) -> int:
    """Write the weeks of ``mondays`` that no final row holds yet for ``clients`` (the digest
    does this before reading, so a week that closed after the hourly run is complete).
    Returns how many rows were written."""
    at = at or timezone.now()
    clients = list(clients)
    mondays = sorted(set(mondays))
    held = {
        (row.client_id, row.week_start)
        for row in WeeklyRollup.objects.filter(client__in=clients, week_start__in=mondays)
        if row.is_final
    }
    written = 0
    for client in clients:
        for monday in mondays:
            start, _ = week_bounds(client, monday)
            if (client.pk, monday) not in held and start <= at:
                write_weekly_rollup(client, monday, at=at)
                written += 1
    return written


def figures_of(row: WeeklyRollup) -> WeekFigures:
    """A stored week as the figures the review shows."""
    return WeekFigures(
        start=row.start,
        end=row.end,
        compliant=row.compliant,
        in_scope=row.in_scope,
        not_reporting=row.not_reporting,
        exceptions_active=row.exceptions_active,
        exceptions_max_aging_days=row.exceptions_max_aging_days,
        exceptions_min_days_left=row.exceptions_min_days_left,
        deployments_failed=row.deployments_failed,
        deployments_attempted=row.deployments_attempted,
        after_hours_tickets=row.after_hours_tickets,
        time_to_fix=engine.TimeToFix(tuple(row.time_to_fix_hours)),
        time_to_fix_by_engineer={
            who: engine.TimeToFix(tuple(hours))
            for who, hours in sorted(row.time_to_fix_by_engineer.items())
        },
        measured_at=row.measured_at,
    )


def read_weekly_rollups(
    clients: Iterable[Client], mondays: Iterable[date]
) -> dict[tuple[int, date], WeekFigures]:
    """The stored weeks of ``clients`` starting on ``mondays``, by (client id, Monday): one
    query whatever the number of clients."""
    rows = WeeklyRollup.objects.filter(
        client_id__in=[c.pk for c in clients], week_start__in=list(mondays)
    )
    return {(row.client_id, row.week_start): figures_of(row) for row in rows}
