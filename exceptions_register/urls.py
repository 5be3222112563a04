"""HTML pages of the exceptions_register app, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "exceptions_register"
urlpatterns = [
    path("exceptions/", views.ExceptionListView.as_view(), name="exception_list"),
    path("exceptions/export.csv", views.ExceptionExportView.as_view(), name="exception_export"),
    path("exceptions/new/", views.ExceptionFormView.as_view(mode="create"), name="exception_add"),
    path("exceptions/<uuid:uuid>/", views.ExceptionDetailView.as_view(), name="exception_detail"),
    path(
        "exceptions/<uuid:uuid>/edit/",
        views.ExceptionFormView.as_view(mode="edit"),
        name="exception_edit",
    ),
    path(
        "exceptions/<uuid:uuid>/renew/",
        views.ExceptionFormView.as_view(mode="renew"),
        name="exception_renew",
    ),
    path(
        "exceptions/<uuid:uuid>/submit/",
        views.ExceptionActionView.as_view(action="submit"),
        name="exception_submit",
    ),
    path(
        "exceptions/<uuid:uuid>/revoke/",
        views.ExceptionActionView.as_view(action="revoke"),
        name="exception_revoke",
    ),
    path("portal/exceptions/", views.PortalListView.as_view(), name="portal_list"),
    path(
        "portal/exceptions/<uuid:uuid>/",
        views.PortalDetailView.as_view(),
        name="portal_detail",
    ),
]
