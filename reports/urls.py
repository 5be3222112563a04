"""HTML pages of the reports app, under /clients/<slug>/."""

from django.urls import path

from .views import (
    DeliveredReportView,
    ExceptionRegisterPdfView,
    ReportDetailView,
    ReportDownloadView,
    ReportListView,
    ReportRecipientsView,
    ReportRequestRetryView,
    ReportRequestRowView,
    ReportSettingsView,
)

app_name = "reports"
urlpatterns = [
    path("reports/", ReportListView.as_view(), name="reports"),
    path("reports/<uuid:uuid>/", ReportDetailView.as_view(), name="report-detail"),
    path("reports/<uuid:uuid>/download/", ReportDownloadView.as_view(), name="report-download"),
    path("reports/recipients/", ReportRecipientsView.as_view(), name="report-recipients"),
    # The link of a report e-mail (signed, expiring, for its recipient once signed in).
    path("reports/delivered/<str:token>/", DeliveredReportView.as_view(), name="report-delivered"),
    path("reports/settings/", ReportSettingsView.as_view(), name="report-settings"),
    # One request's row of the reports page, asked for by the row itself until it is done.
    path(
        "reports/requests/<uuid:uuid>/",
        ReportRequestRowView.as_view(),
        name="report-request-row",
    ),
    path(
        "reports/requests/<uuid:uuid>/retry/",
        ReportRequestRetryView.as_view(),
        name="report-request-retry",
    ),
    # The exception register's "Export PDF" button: queues the register as a stored report.
    path("exceptions/export.pdf", ExceptionRegisterPdfView.as_view(), name="exception_pdf"),
]
