"""URLs of one client; django-tenants serves them under /clients/<slug>/."""

from django.urls import include, path

from accounts import urls_audit
from dashboard.views import ClientHomeView

CLIENT_APPS = [
    "inventory",
    "uploads",
    "findings",
    "compliance",
    "rings",
    "exceptions_register",
    "privileged",
    "evidence",
    "integrations",
    "reports",
    "webhooks",
    "exposure",
]
PAGE_URLCONFS = {app: f"{app}.urls" for app in CLIENT_APPS}

api_v1: list = [
    path("", include("tenants.api.client_urls")),
    path("", include((urls_audit.client_api, "audit-api"))),
] + [path("", include(f"{app}.api.urls")) for app in CLIENT_APPS]

urlpatterns = [
    path("", ClientHomeView.as_view(), name="client_home"),
    path("api/v1/", include(api_v1)),
    path("", include((urls_audit.client_pages, "audit"))),
    *[path("", include(urlconf)) for urlconf in PAGE_URLCONFS.values()],
    path("", include("accounts.urls")),
    path("", include("accounts.mfa.client_urls")),
    path("", include("accounts.token_urls")),
]

handler400 = "common.errors.bad_request"
handler403 = "common.errors.permission_denied"
handler404 = "common.errors.page_not_found"
handler500 = "common.errors.server_error"
