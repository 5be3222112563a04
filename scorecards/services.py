"""Write side of the scorecard rollup: one row per client per day, computed by the engine."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django_tenants.utils import tenant_context

from compliance import engine
from notifications.services import compliance_recorded
from tenants.models import Client

from .models import ScorecardRow

__all__ = ["record_scorecard", "SLA_PERIOD_DAYS"]

SLA_PERIOD_DAYS = 30


def record_scorecard(*, client: Client, at: datetime) -> ScorecardRow:
    """Compute ``client``'s figures at ``at`` and upsert its row for that day (client time zone).

    Idempotent: running it again the same day replaces that day's figures. The figures come
    from the engine's scorecard path (``engine.scorecard_figures``: the same figures as
    ``engine.compute``, only those the row keeps, in two queries) and the row is written with
    one ``INSERT … ON CONFLICT (client, date) DO UPDATE``.
    """
    with tenant_context(client), transaction.atomic():
        figures = engine.scorecard_figures(client=client, at=at, period_days=SLA_PERIOD_DAYS)
        breakdown = figures.compliance
        values = {
            "computed_at": at,
            "assets_in_scope": breakdown.client.denominator,
            "compliant_assets": breakdown.client.numerator,
            "compliance_pct": breakdown.client.pct,
            "by_tier": engine.compliance_ratios(breakdown.by_tier),
            "by_os_family": engine.compliance_ratios(breakdown.by_os_family),
            "by_asset_class": engine.compliance_ratios(breakdown.by_asset_class),
            "sla_attainment_pct": figures.sla_attainment.pct,
            "sla_period_days": SLA_PERIOD_DAYS,
            "exceptions_active": figures.exceptions_active,
            "exceptions_max_aging_days": figures.exceptions_max_aging_days,
            "patch_failure_rate_pct": figures.patch_failure_rate,
            "after_hours_tickets": figures.after_hours_tickets,
            "open_critical": figures.open_critical,
            "overdue_findings": figures.overdue_findings,
            "ephi_assets": figures.ephi_assets,
            "do_not_disrupt_assets": figures.do_not_disrupt_assets,
            "is_regulated": client.is_hipaa,
        }
        [row] = ScorecardRow.objects.bulk_create(
            [ScorecardRow(client=client, date=at.astimezone(client.tz).date(), **values)],
            update_conflicts=True,
            unique_fields=["client", "date"],
            update_fields=[*values, "updated_at"],
        )
        # Account managers hear of a client whose compliance fell since its previous scorecard.
        previous = (
            ScorecardRow.objects.filter(client=client, date__lt=row.date)
            .order_by("-date")
            .values_list("compliance_pct", flat=True)
            .first()
        )
        compliance_recorded(
            client=client, day=row.date, current=row.compliance_pct, previous=previous
        )
    return row
