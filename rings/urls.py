"""HTML pages of the rings app, under /clients/<slug>/."""

from django.urls import path

from . import policy_views, restore_views, views

app_name = "rings"
urlpatterns = [
    path("rollouts/", views.RolloutBoardView.as_view(), name="rollout_list"),
    path("rollouts/new/", views.CreateRolloutView.as_view(), name="rollout_add"),
    path("rollouts/preview/", views.PreviewRolloutView.as_view(), name="rollout_preview"),
    path("rollouts/<uuid:pk>/", views.RolloutDetailView.as_view(), name="rollout_detail"),
    path("rollouts/<uuid:pk>/status/", views.RolloutStatusView.as_view(), name="rollout_status"),
    path("rollouts/<uuid:pk>/approve/", views.ApproveWaveView.as_view(), name="rollout_approve"),
    path("rollouts/<uuid:pk>/halt/", views.HaltRolloutView.as_view(), name="rollout_halt"),
    path("rollouts/<uuid:pk>/resume/", views.ResumeRolloutView.as_view(), name="rollout_resume"),
    path("rollouts/<uuid:pk>/rollback/", views.RollbackView.as_view(), name="rollout_rollback"),
    path("rollouts/<uuid:pk>/runbook/", views.RunbookCheckView.as_view(), name="rollout_runbook"),
    path("rings/", views.RingEditorView.as_view(), name="ring_list"),
    path("rings/export.csv", views.RingExportView.as_view(), name="ring_export"),
    path(
        "maintenance-windows/",
        views.WindowEditorView.as_view(),
        name="maintenancewindow_list",
    ),
    path(
        "maintenance-windows/<uuid:pk>/",
        views.WindowEditView.as_view(),
        name="maintenancewindow_detail",
    ),
    path("restore-tests/", restore_views.RestoreTestsView.as_view(), name="restoretest_list"),
    # Automatic patch policies.
    path("patch-policies/", policy_views.PolicyListView.as_view(), name="patchpolicy_list"),
    path("patch-policies/new/", policy_views.PolicyCreateView.as_view(), name="patchpolicy_add"),
    path(
        "patch-policies/<uuid:pk>/",
        policy_views.PolicyDetailView.as_view(),
        name="patchpolicy_detail",
    ),
]
