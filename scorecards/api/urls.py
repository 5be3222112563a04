"""Cross-client scorecard API, mounted at /api/v1/scorecards/."""

from rest_framework.routers import SimpleRouter

from .views import ScorecardRowViewSet

app_name = "scorecards-api"
router = SimpleRouter()
router.register("", ScorecardRowViewSet, basename="scorecard")
urlpatterns = router.urls
