"""API of the findings app, under /clients/<slug>/api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import FindingViewSet, PrioritizationLogView, SlaPolicyView

app_name = "findings-api"
router = SimpleRouter()
router.register("findings", FindingViewSet, basename="finding")
urlpatterns = [
    path("sla-policy/", SlaPolicyView.as_view(), name="sla-policy"),
    path("prioritization-log/", PrioritizationLogView.as_view(), name="prioritization-log"),
    *router.urls,
]
