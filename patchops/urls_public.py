"""URLs of the public schema: login, the cross-client pages and API, the API schema and docs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import urls_audit
from catalogue.views import CatalogueFreshnessPage
from dashboard.views import HomeView, PlansView, WeeklyReviewView
from tenants.views import health

api_v1 = [
    path("", include("tenants.api.urls")),
    path("scorecards/", include("scorecards.api.urls")),
    path("", include("catalogue.api.urls")),
    path("", include("uploads.api.public_urls")),
    path("", include("rings.api.public_urls")),
    path("", include("webhooks.api.public_urls")),
    # Cross-client lists for MSP-wide principals.
    path("", include("findings.api.public_urls")),
    path("", include("inventory.api.public_urls")),
    path("", include("exceptions_register.api.public_urls")),
    path("", include((urls_audit.msp_api, "audit-api"))),
]

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("plans/", PlansView.as_view(), name="plans"),
    path("weekly-review/", WeeklyReviewView.as_view(), name="weekly-review"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("notifications.urls")),
    path("accounts/", include("accounts.public_urls")),
    path("accounts/mfa/", include("accounts.mfa.urls")),
    path("accounts/passkeys/", include("accounts.passkeys.urls")),
    path("health/", health, name="health"),
    path("scorecards/", include("scorecards.urls")),
    path("catalogues/", CatalogueFreshnessPage.as_view(), name="catalogue-freshness"),
    path("catalogue-uploads/", include("uploads.public_urls")),
    path("patch-policy-templates/", include("rings.public_urls")),
    path("critical-queue/", include("findings.public_urls")),
    path("msp-webhooks/", include("webhooks.public_urls")),
    path("report-branding/", include("reports.public_urls")),
    path("", include((urls_audit.msp_pages, "audit"))),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[]),
        name="schema",
    ),
    path(
        "api/docs/",
        # Its init script is a separate response (?script), so the page needs no inline script.
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", permission_classes=[], template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
]

handler400 = "common.errors.bad_request"
handler403 = "common.errors.permission_denied"
handler404 = "common.errors.page_not_found"
handler500 = "common.errors.server_error"
