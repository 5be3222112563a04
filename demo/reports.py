"""Demo data of the evidence app: last month's stored reports, so the Reports page is not empty."""

from __future__ import annotations

from django.utils import timezone

from common.periods import previous_month
from reports.services import generate_missing_reports


def seed_client(client) -> None:
    """Inside the client's schema: generate last month's available reports (idempotent)."""
    period = previous_month(timezone.now().astimezone(client.tz))
    generate_missing_reports(client=client, period=period, actor="system:demo")
