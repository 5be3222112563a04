"""API of the patchops app, under /clients/<slug>/api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ComplianceView, FindingViewSet, PrioritizationLogView, SlaPolicyView

app_name = "patchops-api"
router = SimpleRouter()
router.register("findings", FindingViewSet, basename="finding")
urlpatterns = [
    path("compliance/", ComplianceView.as_view(), name="compliance"),
    path("sla-policy/", SlaPolicyView.as_view(), name="sla-policy"),
    path("prioritization-log/", PrioritizationLogView.as_view(), name="prioritization-log"),
    *router.urls,
]
