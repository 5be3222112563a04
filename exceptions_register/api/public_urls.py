"""The cross-client list of the exception register, under /api/v1/ (MSP-wide principals)."""

from django.urls import path

from .cross_client import CrossClientExceptionList

urlpatterns = [
    path("exceptions/", CrossClientExceptionList.as_view(), name="cross-client-exceptions")
]
