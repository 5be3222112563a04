"""Mounted in the public API (``/api/v1/``): ``path("", include("catalogue.api.urls"))``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AdvisoryViewSet, CatalogueFreshnessView, KevEntryViewSet, VulnerabilityViewSet

app_name = "catalogue-api"
router = SimpleRouter()
router.register("vulnerabilities", VulnerabilityViewSet, basename="vulnerability")
router.register("advisories", AdvisoryViewSet, basename="advisory")
router.register("kev-entries", KevEntryViewSet, basename="kev-entry")
urlpatterns = [
    path("catalogue-freshness/", CatalogueFreshnessView.as_view(), name="catalogue-freshness"),
    *router.urls,
]
