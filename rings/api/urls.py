"""API of the rings app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from rings.api.policy_views import PatchPolicyViewSet
from rings.api.views import (
    MaintenanceWindowViewSet,
    RingViewSet,
    RolloutViewSet,
    RunbookCheckViewSet,
)

app_name = "rings-api"
router = SimpleRouter()
router.register("rings", RingViewSet, basename="ring")
router.register("rollouts", RolloutViewSet, basename="rollout")
router.register("maintenance-windows", MaintenanceWindowViewSet, basename="maintenance-window")
router.register("runbook-checks", RunbookCheckViewSet, basename="runbook-check")
router.register("patch-policies", PatchPolicyViewSet, basename="patch-policy")
urlpatterns = router.urls
