from __future__ import annotations

import threading
from collections import OrderedDict
from types import ModuleType
from typing import Any

from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.http import Http404, JsonResponse
from django.urls import clear_url_caches, set_urlconf
from django_tenants.middleware import TenantSubfolderMiddleware
from django_tenants.urlresolvers import get_subfolder_urlconf
from django_tenants.utils import get_public_schema_name, get_subfolder_prefix

from .models import RESERVED_SLUGS

# Django keeps one resolver per URLconf object, and building one (every pattern of the portal
# under the client's prefix) costs tens of milliseconds. Each client's URLconf is therefore
# made once and kept (the most recently used ``URLCONF_CACHE_SIZE`` of them), instead of a new
# one and emptied URL caches on every request; past the bound the least recently used goes
# and the resolvers are rebuilt as requests come (the kept ones included, once).
URLCONF_CACHE_SIZE = 256
_urlconfs: OrderedDict[str, ModuleType] = OrderedDict()
_urlconfs_lock = threading.Lock()


def client_urlconf(tenant: Any) -> ModuleType:
    """The URLconf of ``tenant``'s subfolder (``tenant.domain_subfolder``), made once."""
    slug = tenant.domain_subfolder
    with _urlconfs_lock:
        urlconf = _urlconfs.get(slug)
        if urlconf is not None:
            _urlconfs.move_to_end(slug)
            return urlconf
        urlconf = get_subfolder_urlconf(tenant)
        _urlconfs[slug] = urlconf
        if len(_urlconfs) > URLCONF_CACHE_SIZE:
            _urlconfs.popitem(last=False)
            clear_url_caches()  # the evicted URLconf's resolver goes with the others
        return urlconf


@receiver(setting_changed)
def _forget_urlconfs(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ROOT_URLCONF", "PUBLIC_SCHEMA_URLCONF", "TENANT_SUBFOLDER_PREFIX"):
        with _urlconfs_lock:
            _urlconfs.clear()


class ClientSubfolderMiddleware(TenantSubfolderMiddleware):
    """Resolves /clients/<slug>/ to the client's schema. An unknown slug is a 404, never public.

    As django-tenants' subfolder middleware, with the client's URLconf kept between requests
    (``client_urlconf``) rather than rebuilt with the URL caches on each one."""

    def process_request(self, request: Any) -> Any:
        if hasattr(request, "tenant"):
            return None
        prefix = f"/{get_subfolder_prefix()}/"
        connection.set_schema_to_public()
        hostname = self.hostname_from_request(request)
        urlconf = None
        if request.path.startswith(prefix):
            slug = request.path[len(prefix) :].split("/", 1)[0]
            if not slug or slug in RESERVED_SLUGS:
                return self.no_tenant_found(request, slug)
            try:
                tenant = self.get_tenant(domain_model=self._domain_model(), hostname=slug)
            except self._domain_model().DoesNotExist:
                return self.no_tenant_found(request, slug)
            tenant.domain_subfolder = slug
            urlconf = client_urlconf(tenant)
        else:
            from django_tenants.utils import get_tenant_model

            model = get_tenant_model()
            try:
                tenant = model.objects.get(schema_name=get_public_schema_name())
            except model.DoesNotExist:
                raise self.TENANT_NOT_FOUND_EXCEPTION("Unable to find public tenant") from None
            self.setup_url_routing(request, force_public=True)
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        if urlconf is not None:
            request.urlconf = urlconf
            set_urlconf(urlconf)
        return None

    @staticmethod
    def _domain_model() -> Any:
        from django_tenants.utils import get_tenant_domain_model

        return get_tenant_domain_model()

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
