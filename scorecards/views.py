"""The cross-client scorecard page: reads only the public rollup rows."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from . import selectors


class ScorecardListView(LoginRequiredMixin, TemplateView):
    template_name = "scorecards/scorecard_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["scores"] = selectors.clients_by_risk(self.request.user)
        context["trend_days"] = selectors.TREND_DAYS
        return context
