"""The public URLs with the catalogue API mounted the way the project mounts it."""

from django.urls import include, path

from patchops.urls_public import urlpatterns as public_urlpatterns

urlpatterns = [path("api/v1/", include("catalogue.api.urls")), *public_urlpatterns]
