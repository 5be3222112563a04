from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from tenants.permissions import ClientPageMixin, visible_clients


class HomeView(LoginRequiredMixin, TemplateView):
    """Staff see the clients they may work on; a client user lands in their own client."""

    template_name = "tenants/home.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        clients = list(visible_clients(request.user))
        if not request.user.staff_role and len(clients) == 1:
            return redirect(clients[0].get_absolute_url())
        self.clients = clients
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["clients"] = self.clients
        return context


class ClientHomeView(ClientPageMixin, TemplateView):
    template_name = "tenants/client_home.html"


def health(request: HttpRequest) -> JsonResponse:
    """Liveness of the database and Redis; 503 when either is down."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
