"""The project's OpenAPI URLs plus the catalogue API, to check the schema stays warning-free."""

from django.urls import include, path

from patchops.urls_schema import urlpatterns as schema_urlpatterns

urlpatterns = [path("api/v1/", include("catalogue.api.urls")), *schema_urlpatterns]
