"""HTML pages of the findings app (findings, prioritization log, SLA policy), under
/clients/<slug>/."""

from django.urls import path

from . import views

app_name = "findings"
urlpatterns = [
    path("findings/", views.FindingListView.as_view(), name="finding_list"),
    path("findings/actions/", views.FindingActionView.as_view(), name="finding_actions"),
    path("findings/<uuid:uuid>/", views.FindingDetailView.as_view(), name="finding_detail"),
    path(
        "findings/triage/<uuid:uuid>/decide/",
        views.TriageDecisionView.as_view(),
        name="triage_decide",
    ),
    path(
        "prioritization-log/",
        views.PrioritizationLogView.as_view(),
        name="prioritization_log",
    ),
    path("sla-policy/", views.SlaPolicyView.as_view(), name="sla_policy"),
]
