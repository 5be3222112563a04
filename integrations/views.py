"""HTML pages of the integrations app, under /clients/<slug>/: the outbox of outbound calls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from common.pagination import page_of
from tenants.permissions import Capability, ClientPageMixin

from .filters import OutboxMessageFilterSet
from .outbox import retry_message, retry_refusal
from .selectors import visible_outbox_messages

PAGE_SIZE = 50


class OutboxListView(ClientPageMixin, TemplateView):
    """Every outbound call with its delivery state, attempts, last error and next attempt; a
    dead one can be sent again."""

    template_name = "integrations/outboxmessage_list.html"
    capability = Capability.OPERATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = OutboxMessageFilterSet(
            self.request.GET or None, queryset=visible_outbox_messages()
        )
        if filterset.is_bound and not filterset.is_valid():
            qs = visible_outbox_messages().none()
        else:
            qs = filterset.qs if filterset.is_bound else visible_outbox_messages()
        params = self.request.GET.copy()
        params.pop("page", None)
        page = page_of(self.request, qs, size=PAGE_SIZE)
        for message in page:
            message.is_retryable = message.is_dead and retry_refusal(message) is None
        context.update(filter=filterset, page_obj=page, query=params.urlencode())
        return context


class OutboxRetryView(ClientPageMixin, View):
    """Send a dead call again (engineers and MSP admins)."""

    capability = Capability.OPERATE

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        message = get_object_or_404(visible_outbox_messages(), uuid=pk)
        try:
            retry_message(message=message, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{message.event} to {message.target} is queued again.")
        back = request.POST.get("next", "")
        if back.startswith("?"):
            return redirect(reverse("integrations:outboxmessage_list") + back)
        return redirect("integrations:outboxmessage_list")
