"""Public pages of the findings app: the cross-client critical queue."""

from django.urls import path

from . import public_views

app_name = "findings-queue"
urlpatterns = [path("", public_views.CriticalQueueView.as_view(), name="critical_queue")]
