"""API of the reports app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from reports.api.views import StoredReportViewSet

app_name = "reports-api"
router = SimpleRouter()
router.register("reports", StoredReportViewSet, basename="storedreport")
urlpatterns = router.urls
