"""HTML pages of the compliance app, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "compliance"
urlpatterns = [
    path("compliance/", views.ComplianceView.as_view(), name="compliance"),
]
