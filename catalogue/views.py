"""The catalogue freshness page (public schema). Catalogues are reference data: like the
catalogue API, any signed-in principal may read them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from tenants.permissions import may_import_catalogues

from .freshness import catalogue_freshness


class CatalogueFreshnessPage(LoginRequiredMixin, TemplateView):
    template_name = "catalogue/freshness.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            states=catalogue_freshness(),
            may_import_catalogues=may_import_catalogues(self.request.user),
            **kwargs,
        )
