"""The cross-client list of the inventory (assets), under /api/v1/ (MSP-wide principals)."""

from django.urls import path

from .cross_client import CrossClientAssetList

urlpatterns = [path("assets/", CrossClientAssetList.as_view(), name="cross-client-assets")]
