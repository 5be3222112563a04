"""URLs of one client; django-tenants serves them under /clients/<slug>/."""

from django.urls import include, path

from tenants.views import ClientHomeView

api_v1: list = [
    path("", include("tenants.api.client_urls")),
]

urlpatterns = [
    path("", ClientHomeView.as_view(), name="client_home"),
    path("api/v1/", include(api_v1)),
]
