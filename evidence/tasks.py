"""Celery tasks of the evidence app: thin wrappers around evidence.reports."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import connection
from django.utils import timezone

from common.dependencies import RETRY_ON_DEPENDENCY_ERRORS
from common.locks import held_lock
from tenants.dispatch import dispatch_per_client
from tenants.models import Client

from .periods import format_period, parse_period
from .reports import due_for_monthly, generate_missing_reports, generate_report, monthly_kinds

__all__ = ["generate_report_task", "generate_monthly_reports", "dispatch_monthly_reports"]


def _current_client() -> Client:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        raise RuntimeError("evidence tasks run inside a client schema")
    return tenant


@shared_task(name="evidence.generate_report", **RETRY_ON_DEPENDENCY_ERRORS)
def generate_report_task(*, kind: str, period: str, actor: str | None = None) -> dict[str, Any]:
    """Render and store one report in the current client's schema (on demand)."""
    report = generate_report(
        client=_current_client(), kind=kind, period=parse_period(period), actor=actor
    )
    return {"id": str(report.uuid), "kind": kind, "period": period, "sha256": report.sha256}


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
    from .models import StoredReport

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
