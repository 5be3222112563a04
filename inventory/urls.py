"""HTML pages of the inventory app, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("assets/", views.AssetListView.as_view(), name="asset_list"),
    path("assets/<uuid:uuid>/", views.AssetDetailView.as_view(), name="asset_detail"),
    path("software/", views.SoftwareListView.as_view(), name="software_list"),
    path("unknown-devices/", views.UnknownDeviceListView.as_view(), name="unknowndevice_list"),
    path(
        "unknown-devices/<uuid:uuid>/adopt/",
        views.UnknownDeviceActionView.as_view(action="adopt"),
        name="unknowndevice_adopt",
    ),
    path(
        "unknown-devices/<uuid:uuid>/dismiss/",
        views.UnknownDeviceActionView.as_view(action="dismiss"),
        name="unknowndevice_dismiss",
    ),
    path("discovery-runs/", views.DiscoveryRunListView.as_view(), name="discoveryrun_list"),
    path("scope/", views.ScopeView.as_view(), name="scope"),
    path("scope/review/", views.PolicyReviewView.as_view(), name="softwarepolicy_review"),
    path("scope/policies/new/", views.PolicyFormView.as_view(), name="softwarepolicy_add"),
    path(
        "scope/policies/<uuid:uuid>/",
        views.PolicyFormView.as_view(),
        name="softwarepolicy_edit",
    ),
    path("snapshots/", views.SnapshotListView.as_view(), name="snapshot_list"),
    path(
        "snapshots/<uuid:uuid>/<str:kind>/",
        views.SnapshotDownloadView.as_view(),
        name="snapshot_download",
    ),
]
