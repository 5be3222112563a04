"""Celery tasks of the reports app: thin wrappers around reports.services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone

from common.dependencies import DEPENDENCY_ERRORS, RETRY_ON_DEPENDENCY_ERRORS, enqueue_on
from common.locks import held_lock
from common.periods import format_period, parse_period
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from . import delivery as report_delivery
from . import requests
from .models import ReportRequest, StoredReport
from .services import due_for_monthly, generate_missing_reports, generate_report, monthly_kinds

__all__ = [
    "generate_report_task",
    "generate_monthly_reports",
    "dispatch_monthly_reports",
    "dispatch_stale_requests",
    "fail_stale_requests",
    "deliver_report_task",
    "dispatch_lost_deliveries",
    "requeue_lost_deliveries",
    "queue_request",
]


def _current_client() -> Client:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        raise RuntimeError("evidence tasks run inside a client schema")
    return tenant


@shared_task(name="evidence.generate_report", bind=True, **RETRY_ON_DEPENDENCY_ERRORS)
def generate_report_task(
    self: Any,
    *,
    request: str | None = None,
    kind: str | None = None,
    period: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Render and store the report of one request in the current client's schema.

    A lost database or broker retries (backoff); any other error fails the request with its
    reason. Without ``request`` (a message queued before requests existed) it renders ``kind``
    for ``period`` as it always did."""
    client = _current_client()
    if request is None:
        report = generate_report(client=client, kind=kind, period=parse_period(period), actor=actor)
        return {"id": str(report.uuid), "kind": kind, "period": period, "sha256": report.sha256}
    try:
        done = requests.run_request(client=client, uuid=request)
    except ReportRequest.DoesNotExist:
        # The request's transaction has not committed yet; it will in a moment.
        raise self.retry(countdown=1, max_retries=30) from None
    except DEPENDENCY_ERRORS:
        if self.request.retries >= self.max_retries:
            requests.fail_request(uuid=request, reason="The database or queue stayed unavailable.")
        raise
    except Exception as exc:
        requests.fail_request(uuid=request, reason=f"{type(exc).__name__}: {exc}")
        raise
    return {"request": request, "state": done.state, "report": str(done.report.uuid)}


def queue_request(made: ReportRequest) -> None:
    """Queue the rendering of one request on ``REPORTS_QUEUE`` (``QueueUnavailable`` when the
    broker is down)."""
    enqueue_on(settings.REPORTS_QUEUE, generate_report_task, request=str(made.uuid))


@shared_task(name="reports.dispatch_stale_requests")
def dispatch_stale_requests() -> dict[str, Any]:
    """Every ten minutes: fail the requests of each client that stopped without a word."""
    return {"sent": len(dispatch_per_client(fail_stale_requests))}


@shared_task(name="reports.fail_stale_requests", **RETRY_ON_DEPENDENCY_ERRORS)
def fail_stale_requests() -> dict[str, Any]:
    return {"schema": connection.schema_name, "failed": requests.fail_stale_requests()}


@shared_task(name="evidence.generate_monthly_reports", **RETRY_ON_DEPENDENCY_ERRORS)
def generate_monthly_reports(*, period: str) -> dict[str, Any]:
    """Generate the month's reports that do not exist yet (idempotent) in the current schema."""
    client = _current_client()
    with held_lock(f"evidence:monthly-reports:{period}") as held:  # one lock per client
        if not held:
            return {"client": client.slug, "period": period, "generated": [], "skipped": "running"}
        made = generate_missing_reports(
            client=client, period=parse_period(period), actor="system:monthly-reports"
        )
    return {"client": client.slug, "period": period, "generated": [r.kind for r in made]}


@shared_task(name="evidence.dispatch_monthly_reports")
def dispatch_monthly_reports() -> dict[str, Any]:
    """Hourly: queue last month's reports for each client whose local date is the 1st."""
    now = timezone.now()

    def missing_reports(client: Client) -> dict[str, str] | None:
        due = due_for_monthly(now, [client])
        if not due:
            return None
        [(_, period)] = due
        kinds = monthly_kinds(client)
        stored = StoredReport.objects.filter(kind__in=kinds, period=period)
        if stored.values("kind").distinct().count() >= len(kinds):
            return None
        return {"period": format_period(period)}

    return {"queued": dispatch_per_client(generate_monthly_reports, select=missing_reports)}


@shared_task(name="reports.deliver_report", bind=True, **RETRY_ON_DEPENDENCY_ERRORS)
def deliver_report_task(self: Any, *, delivery: str) -> dict[str, Any]:
    """E-mail one delivery of a new report (``reports.delivery.deliver``): sent at most once
    however often the task runs; a mail server failure retries with backoff until
    ``REPORT_DELIVERY_MAX_ATTEMPTS`` (then the delivery is failed, on the report's page)."""
    client = _current_client()
    attempts = settings.REPORT_DELIVERY_MAX_ATTEMPTS
    final = self.request.retries + 1 >= attempts
    try:
        done = report_delivery.deliver(client=client, uuid=delivery, final_attempt=final)
    except report_delivery.MailFailed as exc:
        if final:
            return {"delivery": delivery, "state": "failed", "error": str(exc)}
        countdown = settings.REPORT_DELIVERY_RETRY_SECONDS * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown, max_retries=attempts - 1) from None
    return {"delivery": str(done.uuid), "state": done.state, "attempts": done.attempts}


@shared_task(name="reports.dispatch_lost_deliveries")
def dispatch_lost_deliveries() -> dict[str, Any]:
    """Every ten minutes: queue again, in each client, the report e-mails whose task was lost."""
    return {"sent": len(dispatch_per_client(requeue_lost_deliveries))}


@shared_task(name="reports.requeue_lost_deliveries", **RETRY_ON_DEPENDENCY_ERRORS)
def requeue_lost_deliveries() -> dict[str, Any]:
    return {
        "schema": connection.schema_name,
        "queued": report_delivery.requeue_lost_deliveries(),
    }
