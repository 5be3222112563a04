"""HTML page of the evidence app: the evidence log."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.generic import TemplateView

from common.pagination import page_of
from tenants.permissions import Capability, ClientPageMixin

from .filters import EvidenceEventFilterSet
from .models import EvidenceEvent
from .selectors import chain_head

PAGE_SIZE = 50


def _page(request: HttpRequest, qs) -> Any:
    return page_of(request, qs, size=PAGE_SIZE)


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


class EvidenceLogView(ClientPageMixin, TemplateView):
    template_name = "evidence/events.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = EvidenceEventFilterSet(
            self.request.GET or None, queryset=EvidenceEvent.objects.order_by("-sequence")
        )
        qs = (
            filterset.qs
            if filterset.is_bound and filterset.is_valid()
            else EvidenceEvent.objects.none()
        )
        if not filterset.is_bound:
            qs = EvidenceEvent.objects.order_by("-sequence")
        context.update(
            filter=filterset,
            page_obj=_page(self.request, qs),
            head=chain_head(),
            query=_query_without_page(self.request),
        )
        return context
