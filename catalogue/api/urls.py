"""Mounted in the public API (``/api/v1/``): ``path("", include("catalogue.api.urls"))``."""

from rest_framework.routers import SimpleRouter

from .views import AdvisoryViewSet, KevEntryViewSet, VulnerabilityViewSet

app_name = "catalogue-api"
router = SimpleRouter()
router.register("vulnerabilities", VulnerabilityViewSet, basename="vulnerability")
router.register("advisories", AdvisoryViewSet, basename="advisory")
router.register("kev-entries", KevEntryViewSet, basename="kev-entry")
urlpatterns = router.urls
