"""API of the reports app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from reports.api.views import ReportRecipientViewSet, ReportRequestViewSet, StoredReportViewSet

app_name = "reports-api"
router = SimpleRouter()
router.register("reports", StoredReportViewSet, basename="storedreport")
router.register("report-requests", ReportRequestViewSet, basename="reportrequest")
router.register("report-recipients", ReportRecipientViewSet, basename="reportrecipient")
urlpatterns = router.urls
