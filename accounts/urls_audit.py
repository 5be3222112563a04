"""Routes of the audit log: a client's (under /clients/<slug>/) and the MSP-wide one, pages and
API, included by the project's URLconfs."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views_audit as views

# /clients/<slug>/audit-log/…
client_pages = [
    path("audit-log/", views.ClientAuditLogPage.as_view(), name="audit_log"),
    path(
        "audit-log/export.csv",
        views.ClientAuditLogPage.as_view(export=True),
        name="audit_log_export",
    ),
]
# /audit-log/…
msp_pages = [
    path("audit-log/", views.MspAuditLogPage.as_view(), name="audit_log"),
    path(
        "audit-log/export.csv", views.MspAuditLogPage.as_view(export=True), name="audit_log_export"
    ),
]

_client_router = SimpleRouter()
_client_router.register("audit-events", views.ClientAuditEventViewSet, basename="audit-event")
_msp_router = SimpleRouter()
_msp_router.register("audit-events", views.MspAuditEventViewSet, basename="audit-event")
# /clients/<slug>/api/v1/audit-events/ and /api/v1/audit-events/
client_api = _client_router.urls
msp_api = _msp_router.urls
