"""HTML pages of the evidence app, under /clients/<slug>/."""

from django.urls import path

from .views import EvidenceLogView, ReportDownloadView, ReportListView

app_name = "evidence"
urlpatterns = [
    path("evidence/", EvidenceLogView.as_view(), name="events"),
    path("reports/", ReportListView.as_view(), name="reports"),
    path("reports/<uuid:uuid>/download/", ReportDownloadView.as_view(), name="report-download"),
]
