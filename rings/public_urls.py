"""Public pages of the rings app: the MSP-wide patch policy templates."""

from django.urls import path

from . import policy_views

app_name = "policy-templates"
urlpatterns = [
    path("", policy_views.TemplateListView.as_view(), name="policytemplate_list"),
    path("<uuid:pk>/", policy_views.TemplateDetailView.as_view(), name="policytemplate_detail"),
]
