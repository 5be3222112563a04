"""API of the compliance app, under /clients/<slug>/api/v1/."""

from django.urls import path

from .views import ComplianceView

app_name = "compliance-api"
urlpatterns = [
    path("compliance/", ComplianceView.as_view(), name="compliance"),
]
