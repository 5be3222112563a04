"""API of the rings app, under /clients/<slug>/api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from rings.api.policy_views import PatchPolicyViewSet
from rings.api.restore_views import RestoreTestRuleView, RestoreTestViewSet
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
router.register("restore-tests", RestoreTestViewSet, basename="restore-test")
urlpatterns = [
    path("restore-test-rule/", RestoreTestRuleView.as_view(), name="restore-test-rule"),
    *router.urls,
]
