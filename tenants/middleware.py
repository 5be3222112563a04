from __future__ import annotations

from typing import Any

from django.http import Http404, JsonResponse
from django_tenants.middleware import TenantSubfolderMiddleware

from .models import RESERVED_SLUGS


class ClientSubfolderMiddleware(TenantSubfolderMiddleware):
    """Resolves /clients/<slug>/ to the client's schema. An unknown slug is a 404, never public."""

    def process_request(self, request: Any) -> Any:
        prefix = "/clients/"
        if request.path.startswith(prefix):
            slug = request.path[len(prefix) :].split("/", 1)[0]
            if not slug or slug in RESERVED_SLUGS:
                return self.no_tenant_found(request, slug)
        return super().process_request(request)

    def no_tenant_found(self, request: Any, hostname: str) -> Any:
        if "/api/" in request.path:
            return JsonResponse({"detail": "Not found."}, status=404)
        raise Http404("No such client.")


class ClientTimezoneMiddleware:
    """Pages and API of a client run in the client's time zone: every time shown to a person
    (``|date``, ``|when``, form input) is the client's local time. The API is left as it is:
    ISO 8601 times with their offset (UTC). Cross-client pages stay in UTC and name it."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from django.utils import timezone
        from django_tenants.utils import get_public_schema_name

        tenant = getattr(request, "tenant", None)
        if (
            tenant is None
            or tenant.schema_name == get_public_schema_name()
            or "/api/" in request.path_info
        ):
            # The API keeps answering in UTC (ISO 8601 with the offset, as it always did).
            return self.get_response(request)
        with timezone.override(tenant.tz):
            return self.get_response(request)
