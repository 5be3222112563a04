"""Only for the OpenAPI document: the public API beside the per-client API under its prefix."""

from django.urls import include, path

from patchops import urls as client_urls
from patchops import urls_public

urlpatterns = [
    path("api/v1/", include(urls_public.api_v1)),
    path("clients/<slug:client_slug>/api/v1/", include(client_urls.api_v1)),
]
