"""The cross-client critical queue (/critical-queue/): every outstanding critical finding that is
overdue or due within 72 h, across the clients the reader may see, in one query."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.utils import timezone
from django.views.generic import TemplateView

from tenants.permissions import visible_clients

from . import queue
from .selectors import DUE_SOON_HOURS


class CriticalQueueView(LoginRequiredMixin, TemplateView):
    template_name = "findings/critical_queue.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        clients = list(visible_clients(self.request.user))
        rows = queue.cross_client_queue(clients, at=now)
        context.update(
            rows=rows,
            now=now,
            clients=clients,
            due_soon_hours=DUE_SOON_HOURS,
            limit=queue.CROSS_CLIENT_LIMIT,
            overdue=sum(1 for r in rows if r.overdue),
        )
        return context
