"""The compliance page of one client, under /clients/<slug>/compliance/. Thin: the compliance
engine does the work."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.views.generic import TemplateView

from common.choices import OsFamily
from findings.risk import TIER_RANK
from inventory.models import AssetClass
from tenants.permissions import ClientPageMixin

from . import engine

NOT_REPORTING_LIMIT = 200


class ComplianceView(ClientPageMixin, TemplateView):
    template_name = "compliance/compliance.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        figures = engine.compute(client=self.client, at=now, period_days=30)
        context["figures"] = figures
        context["not_reporting"] = list(
            engine.not_reporting_assets(now, window=figures.compliance.staleness_window)[
                :NOT_REPORTING_LIMIT
            ]
        )
        context["ttr_rows"] = sorted(
            figures.time_to_remediate.items(), key=lambda kv: TIER_RANK.get(kv[0], 9)
        )
        context["attainment_rows"] = sorted(
            figures.sla_attainment_by_tier.items(), key=lambda kv: TIER_RANK.get(kv[0], 9)
        )
        context["class_names"] = dict(AssetClass.objects.values_list("key", "name"))
        context["os_names"] = dict(OsFamily.choices)
        return context
