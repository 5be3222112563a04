"""HTML pages of exposure monitoring, under /clients/<slug>/exposure/.

Everyone who sees the client reads the alerts; engineers and MSP admins (OPERATE) mark the
manual steps done."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from common.pagination import page_of
from tenants.permissions import Capability, ClientPageMixin
from tenants.tiers import tier_of

from . import services
from .selectors import alerts


class AlertListView(ClientPageMixin, TemplateView):
    template_name = "exposure/alert_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(tier=tier_of(self.client), page_obj=page_of(self.request, alerts(), size=50))
        return context


class AlertDetailView(ClientPageMixin, TemplateView):
    template_name = "exposure/alert_detail.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def _alert(self, uuid: Any):
        alert = alerts().filter(uuid=uuid).first()
        if alert is None:
            raise Http404("No such alert.")
        return alert

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            alert=kwargs.get("alert") or self._alert(kwargs["uuid"]),
            may_operate=Capability.OPERATE.value in context["client_capabilities"],
            errors=kwargs.get("errors"),
        )
        return context

    def post(self, request: HttpRequest, uuid: Any) -> HttpResponse:
        alert = self._alert(uuid)
        try:
            row = services.complete_step(
                alert=alert,
                step=request.POST.get("step", ""),
                note=request.POST.get("note", ""),
                actor=request.user,
            )
        except ValidationError as exc:
            context = self.get_context_data(uuid=uuid, alert=alert, errors=exc.message_dict)
            return self.render_to_response(context, status=400)
        messages.success(request, f"{row.get_step_display()} marked done.")
        return redirect(request.path)
