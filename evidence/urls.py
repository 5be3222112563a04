"""HTML pages of the evidence app, under /clients/<slug>/."""

from django.urls import path

from .views import EvidenceLogView

app_name = "evidence"
urlpatterns = [
    path("evidence/", EvidenceLogView.as_view(), name="events"),
]
