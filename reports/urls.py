"""HTML pages of the reports app, under /clients/<slug>/."""

from django.urls import path

from .views import ReportDownloadView, ReportListView

app_name = "reports"
urlpatterns = [
    path("reports/", ReportListView.as_view(), name="reports"),
    path("reports/<uuid:uuid>/download/", ReportDownloadView.as_view(), name="report-download"),
]
