"""HTML pages of the integrations app, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("integrations/outbox/", views.OutboxListView.as_view(), name="outboxmessage_list"),
    path(
        "integrations/outbox/<uuid:pk>/retry/",
        views.OutboxRetryView.as_view(),
        name="outboxmessage_retry",
    ),
    path("integrations/psa/", views.PsaPageView.as_view(), name="psa"),
    path("agents/install/", views.AgentInstallView.as_view(), name="agent_install"),
    path("integrations/rmm/", views.RmmPageView.as_view(), name="rmm"),
    path("integrations/rmm/test/", views.RmmTestView.as_view(), name="rmm_test"),
    path("integrations/network-scans/", views.NetworkScansView.as_view(), name="network_scans"),
    path(
        "integrations/network-scans/<uuid:pk>/remove/",
        views.RemoveScanSubnetView.as_view(),
        name="scan_subnet_remove",
    ),
    path(
        "assets/<uuid:uuid>/approve-reboot/",
        views.ApproveRebootView.as_view(),
        name="approve_reboot",
    ),
    path(
        "integrations/psa/messages/<uuid:pk>/retry/",
        views.PsaRetryView.as_view(),
        name="psa_retry",
    ),
]
