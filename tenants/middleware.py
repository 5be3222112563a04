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
