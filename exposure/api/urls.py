"""API of exposure monitoring, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from .views import ExposureAlertViewSet, ExposureFeedViewSet

app_name = "exposure-api"
router = SimpleRouter()
router.register("exposure-alerts", ExposureAlertViewSet, basename="exposure-alert")
router.register("exposure-feeds", ExposureFeedViewSet, basename="exposure-feed")
urlpatterns = router.urls
