"""HTML pages of the reports app, under /clients/<slug>/."""

from django.urls import path

from .views import (
    ExceptionRegisterPdfView,
    ReportDownloadView,
    ReportListView,
    ReportRequestRetryView,
)

app_name = "reports"
urlpatterns = [
    path("reports/", ReportListView.as_view(), name="reports"),
    path("reports/<uuid:uuid>/download/", ReportDownloadView.as_view(), name="report-download"),
    path(
        "reports/requests/<uuid:uuid>/retry/",
        ReportRequestRetryView.as_view(),
        name="report-request-retry",
    ),
    # The exception register's "Export PDF" button: queues the register as a stored report.
    path("exceptions/export.pdf", ExceptionRegisterPdfView.as_view(), name="exception_pdf"),
]
