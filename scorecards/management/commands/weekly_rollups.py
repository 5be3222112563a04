"""Write the weekly rollups of the weekly review (back-filling weeks, or measuring them again)."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scorecards.weekly import monday_of, week_bounds, write_weekly_rollup
from tenants.models import Client

MAX_WEEKS = 260


def _day(raw: str, option: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise CommandError(f"{option} “{raw[:40]}” is not a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = (
        "Write the weekly review's rollup rows (one per client and week, Monday to Monday in "
        "the client's time zone) for the weeks from --since to --until (default: this week), "
        "for every client or the slugs given. A week is measured again when it has a row."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="client slugs (default: every client)")
        parser.add_argument("--since", required=True, help="a day of the first week, YYYY-MM-DD")
        parser.add_argument("--until", help="a day of the last week, YYYY-MM-DD (default today)")

    def handle(self, *args, **options):
        now = timezone.now()
        first = monday_of(_day(options["since"], "--since"))
        last = monday_of(_day(options["until"], "--until") if options["until"] else now.date())
        if last < first:
            raise CommandError("--until is before --since.")
        weeks = (last - first).days // 7 + 1
        if weeks > MAX_WEEKS:
            raise CommandError(f"At most {MAX_WEEKS} weeks at a time ({weeks} asked).")
        clients = Client.objects.exclude(schema_name="public").order_by("slug")
        slugs = options["slugs"]
        if slugs:
            clients = list(clients.filter(slug__in=slugs))
            unknown = sorted(set(slugs) - {c.slug for c in clients})
            if unknown:
                raise CommandError(f"No client with the slug “{unknown[0]}”.")
        mondays = [first + timedelta(days=7 * n) for n in range(weeks)]
        started = [m for m in mondays if all(week_bounds(c, m)[0] <= now for c in clients)]
        if not started:
            raise CommandError(f"The week of {first.isoformat()} has not begun.")
        written = 0
        for client in clients:
            for monday in started:
                row = write_weekly_rollup(client, monday, at=now)
                written += 1
                state = "final" if row.is_final else f"as of {row.measured_at:%Y-%m-%d %H:%M} UTC"
                self.stdout.write(f"{client.slug} week of {monday.isoformat()}: {state}")
        self.stdout.write(f"{written} weekly rollups written.")
