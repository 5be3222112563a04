"""API of the inventory app, under /clients/<slug>/api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "inventory-api"
router = SimpleRouter()
router.register("assets", views.AssetViewSet, basename="asset")
router.register("software", views.SoftwareViewSet, basename="software")
router.register("unknown-devices", views.UnknownDeviceViewSet, basename="unknown-device")
router.register("discovery-runs", views.DiscoveryRunViewSet, basename="discovery-run")
router.register("snapshots", views.SnapshotViewSet, basename="snapshot")
router.register("software-policies", views.SoftwarePolicyViewSet, basename="software-policy")
urlpatterns = [
    path("discovery/", views.DiscoveryView.as_view(), name="discovery"),
    path("scope/", views.ScopeView.as_view(), name="scope"),
    path("discovery-schedule/", views.DiscoveryScheduleView.as_view(), name="discovery-schedule"),
    *router.urls,
]
