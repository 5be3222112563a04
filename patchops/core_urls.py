"""HTML pages of the patch core (findings, compliance), under /clients/<slug>/.

(``patchops/urls.py`` is the project's per-client URLconf, which includes this module.)
"""

from django.urls import path

from . import views

app_name = "patchops"
urlpatterns = [
    path("findings/", views.FindingListView.as_view(), name="finding_list"),
    path("findings/<uuid:uuid>/", views.FindingDetailView.as_view(), name="finding_detail"),
    path("compliance/", views.ComplianceView.as_view(), name="compliance"),
    path(
        "prioritization-log/",
        views.PrioritizationLogView.as_view(),
        name="prioritization_log",
    ),
    path("sla-policy/", views.SlaPolicyView.as_view(), name="sla_policy"),
]
