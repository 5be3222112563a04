"""The cross-client list of the findings app, under /api/v1/ (MSP-wide principals)."""

from django.urls import path

from .cross_client import CrossClientFindingList

urlpatterns = [path("findings/", CrossClientFindingList.as_view(), name="cross-client-findings")]
