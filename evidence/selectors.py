"""Read side of the evidence app: chain verification, event and report queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Max, Min, QuerySet

from tenants.models import EvidenceCheckpoint

from .models import GENESIS_HASH, EvidenceEvent, StoredReport

__all__ = [
    "ChainBreak",
    "ChainStatus",
    "verify_chain",
    "chain_head",
    "iter_events",
    "events_in_period",
    "period_bounds",
    "latest_reports",
]

VERIFY_BATCH = 2000


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    uuid: str
    problem: str


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    count: int
    head_sequence: int | None
    head_hash: str
    broken: ChainBreak | None = None

    def summary(self) -> str:
        if self.ok:
            return f"{self.count} events, head {self.head_hash}"
        b = self.broken
        if not b.uuid:
            return f"chain does not match its checkpoint #{b.sequence}: {b.problem}"
        return f"chain broken at event #{b.sequence} ({b.uuid}): {b.problem}"

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "count": self.count,
            "head_sequence": self.head_sequence,
            "head_hash": self.head_hash,
            "broken": None
            if self.broken is None
            else {
                "sequence": self.broken.sequence,
                "id": self.broken.uuid,
                "problem": self.broken.problem,
            },
            "summary": self.summary(),
        }


def iter_events(
    queryset: QuerySet[EvidenceEvent] | None = None, *, batch_size: int = VERIFY_BATCH
) -> Iterator[EvidenceEvent]:
    """Events in sequence order, fetched in keyset batches (constant memory, no open cursor)."""
    qs = (queryset if queryset is not None else EvidenceEvent.objects.all()).order_by("sequence")
    last = None
    while True:
        page = qs if last is None else qs.filter(sequence__gt=last)
        batch = list(page[:batch_size])
        if not batch:
            return
        yield from batch
        last = batch[-1].sequence
        if len(batch) < batch_size:
            return


def verify_chain(*, batch_size: int = VERIFY_BATCH) -> ChainStatus:
    """Recompute the current client's whole chain; stop at the first broken event."""
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    count = 0
    for event in iter_events(batch_size=batch_size):
        problem = None
        if event.sequence != expected_sequence:
            problem = (
                f"sequence gap: expected #{expected_sequence}, found #{event.sequence}"
                " (events are missing)"
            )
        elif event.prev_hash != prev_hash:
            problem = (
                f"prev_hash {event.prev_hash} does not match the previous event's hash {prev_hash}"
            )
        else:
            computed = event.compute_hash()
            if computed != event.hash:
                problem = (
                    f"content does not match its hash (stored {event.hash}, computed {computed})"
                )
        if problem:
            return ChainStatus(
                ok=False,
                count=count,
                head_sequence=expected_sequence - 1 or None,
                head_hash=prev_hash,
                broken=ChainBreak(sequence=event.sequence, uuid=str(event.uuid), problem=problem),
            )
        count += 1
        expected_sequence += 1
        prev_hash = event.hash
    mismatch = checkpoint_mismatch(head_sequence=count)
    return ChainStatus(
        ok=mismatch is None,
        count=count,
        head_sequence=count or None,
        head_hash=prev_hash,
        broken=mismatch,
    )


def checkpoint_mismatch(*, head_sequence: int) -> ChainBreak | None:
    """The first checkpoint of the current client (kept in the public schema, where its own
    schema cannot rewrite it) that the recomputed chain fails: the chain ends before it (its
    newest events were deleted) or the event at its sequence has another hash."""
    checkpoints = list(
        EvidenceCheckpoint.objects.filter(client__schema_name=connection.schema_name).order_by(
            "sequence"
        )
    )
    hashes = dict(
        EvidenceEvent.objects.filter(
            sequence__in={c.sequence for c in checkpoints if c.sequence <= head_sequence}
        ).values_list("sequence", "hash")
    )
    for checkpoint in checkpoints:
        witnessed = f"{checkpoint.source}, witnessed {checkpoint.recorded_at:%Y-%m-%d %H:%M} UTC"
        if checkpoint.sequence > head_sequence:
            return ChainBreak(
                sequence=checkpoint.sequence,
                uuid="",
                problem=(
                    f"the chain ends at #{head_sequence}, before event #{checkpoint.sequence} "
                    f"that {witnessed} (events were deleted)"
                ),
            )
        found = hashes.get(checkpoint.sequence)
        if found != checkpoint.hash:
            return ChainBreak(
                sequence=checkpoint.sequence,
                uuid="",
                problem=(
                    f"event #{checkpoint.sequence} has hash {found}, but {witnessed} "
                    f"recorded {checkpoint.hash}"
                ),
            )
    return None


def chain_head() -> EvidenceEvent | None:
    return EvidenceEvent.objects.order_by("-sequence").first()


def period_bounds(period: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month ``period`` in the client's time zone."""
    start = datetime.combine(period.replace(day=1), time.min, tzinfo=tz)
    nxt = date(period.year + (period.month == 12), period.month % 12 + 1, 1)
    return start, datetime.combine(nxt, time.min, tzinfo=tz)


def events_in_period(period: date, tz: ZoneInfo) -> QuerySet[EvidenceEvent]:
    start, end = period_bounds(period, tz)
    return EvidenceEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end).order_by(
        "sequence"
    )


def chain_span_for_period(period: date, tz: ZoneInfo) -> QuerySet[EvidenceEvent]:
    """The unbroken stretch of the chain that holds every event of the period: from its first
    to its last event by sequence, with any event in between whose stated time lies outside
    the period (an agent result reported late, a backdated detection), so the stretch always
    recomputes on its own."""
    span = events_in_period(period, tz).aggregate(first=Min("sequence"), last=Max("sequence"))
    if span["first"] is None:
        return EvidenceEvent.objects.none()
    return EvidenceEvent.objects.filter(
        sequence__gte=span["first"], sequence__lte=span["last"]
    ).order_by("sequence")


def latest_reports(period: date, *, exclude_kinds: tuple[str, ...] = ()) -> list[StoredReport]:
    """The newest version of each report kind for ``period``."""
    seen: dict[str, StoredReport] = {}
    qs = StoredReport.objects.filter(period=period).exclude(kind__in=exclude_kinds)
    for report in qs.order_by("kind", "-version"):
        seen.setdefault(report.kind, report)
    return list(seen.values())
