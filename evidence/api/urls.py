"""API of the evidence app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from evidence.api.views import EvidenceEventViewSet

app_name = "evidence-api"
router = SimpleRouter()
router.register("evidence", EvidenceEventViewSet, basename="evidenceevent")
urlpatterns = router.urls
