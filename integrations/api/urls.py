"""API of the integrations app, under /clients/<slug>/api/v1/."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from common.api import UUID_PATTERN
from integrations.api.views import (
    AgentConfigView,
    AgentDownloadView,
    AgentJobViewSet,
    AssetRebootApprovalView,
    OutboxMessageViewSet,
    PsaConnectionViewSet,
    PsaTicketViewSet,
)

app_name = "integrations-api"
router = SimpleRouter()
router.register("agent-jobs", AgentJobViewSet, basename="agent-job")
router.register("psa-tickets", PsaTicketViewSet, basename="psa-ticket")
router.register("psa-connections", PsaConnectionViewSet, basename="psa-connection")
router.register("outbox-messages", OutboxMessageViewSet, basename="outbox-message")
urlpatterns = [
    path("agent-config/", AgentConfigView.as_view(), name="agent-config"),
    path("agent/download/", AgentDownloadView.as_view(), name="agent-download"),
    re_path(
        rf"^assets/(?P<uuid>{UUID_PATTERN})/approve-reboot/$",
        AssetRebootApprovalView.as_view(),
        name="asset-approve-reboot",
    ),
    *router.urls,
]
