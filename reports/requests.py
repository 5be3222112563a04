"""Report requests: each generation someone asks for, with a state nobody has to guess.

``request_report`` validates and records the request and queues it in one transaction: when the
queue is unreachable nothing is recorded and the caller hears so (``QueueUnavailable``). The
task claims the request (queued or running → running, one more attempt), renders, and stores the
report and marks the request ready in one transaction, so a task delivered again after its
worker died renders again, and one delivered after success stores nothing. A request that fails
keeps its reason and can be retried; one that stops without a word (its worker and its message
lost) is marked failed by the sweep once it has been running longer than any task may.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from evidence.services import actor_label

from .models import ReportRequest, RequestState, StoredReport
from .services import check_kind, check_period, generate_report

Queue = Callable[[ReportRequest], Any]
# Longer than a task may run and wait to be delivered again (visibility timeout + time limit).
STALE_AFTER = timedelta(minutes=30)
ACTIVE = (RequestState.QUEUED, RequestState.RUNNING)


class RequestNotRetryable(ValueError):
    """Only a failed request can be retried."""


def request_report(
    *, client: Any, kind: str, period: date, actor: Any, queue: Queue
) -> ReportRequest:
    """Record a request for ``kind``/``period`` and queue it (raises ``ReportNotAvailable`` or
    ``ValueError`` for a kind or period the client cannot have, ``QueueUnavailable`` when the
    queue is down; nothing is recorded then)."""
    check_kind(kind, client)
    check_period(client, period)
    with transaction.atomic():
        request = ReportRequest.objects.create(
            kind=kind,
            period=period,
            requested_by=actor_label(actor)[:200],
            requested_at=timezone.now(),
        )
        queue(request)
    return request


def retry_request(*, request: ReportRequest, queue: Queue) -> ReportRequest:
    """Queue a failed request again (its reason is kept until the next attempt starts)."""
    with transaction.atomic():
        moved = ReportRequest.objects.filter(pk=request.pk, state=RequestState.FAILED).update(
            state=RequestState.QUEUED, finished_at=None
        )
        if not moved:
            raise RequestNotRetryable("Only a failed request can be retried.")
        queue(request)
    request.refresh_from_db()
    return request


def run_request(*, client: Any, uuid: str) -> ReportRequest:
    """Render the request ``uuid`` unless it is already done (ready or failed). Raises
    ``ReportRequest.DoesNotExist`` while the transaction that queued it has not committed."""
    now = timezone.now()
    claimed = ReportRequest.objects.filter(uuid=uuid, state__in=ACTIVE).update(
        state=RequestState.RUNNING, attempts=F("attempts") + 1, started_at=now
    )
    request = ReportRequest.objects.get(uuid=uuid)
    if not claimed:
        return request

    def ready(report: StoredReport) -> None:
        ReportRequest.objects.filter(pk=request.pk).update(
            state=RequestState.READY, report=report, finished_at=timezone.now(), error=""
        )

    generate_report(
        client=client,
        kind=request.kind,
        period=request.period,
        actor=request.requested_by,
        on_stored=ready,
    )
    request.refresh_from_db()
    return request


def fail_request(*, uuid: str, reason: str) -> None:
    """The request's attempt ended in an error that retrying the task will not mend."""
    ReportRequest.objects.filter(uuid=uuid, state__in=ACTIVE).update(
        state=RequestState.FAILED, finished_at=timezone.now(), error=reason[:2000]
    )


def fail_stale_requests(*, now: Any = None) -> int:
    """Requests queued or running for longer than any task may: failed, with a retry."""
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    return (
        ReportRequest.objects.filter(state__in=ACTIVE)
        .filter(
            Q(state=RequestState.QUEUED, requested_at__lt=cutoff)
            | Q(state=RequestState.RUNNING, started_at__lt=cutoff)
        )
        .update(
            state=RequestState.FAILED,
            finished_at=now,
            error=(
                "The report did not finish within 30 minutes (its worker may have stopped); "
                "nothing was stored. Retry it."
            ),
        )
    )


def recent_requests(limit: int = 20) -> list[ReportRequest]:
    """The newest requests, for the reports page (ready ones link their report)."""
    return list(ReportRequest.objects.select_related("report").order_by("-requested_at")[:limit])
