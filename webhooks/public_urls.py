"""MSP pages of the webhook endpoints hearing every client, under /msp-webhooks/. A dead
delivery of an MSP endpoint is sent again from its client's Outbound calls page."""

from django.urls import path

from . import views

app_name = "msp-webhooks"
urlpatterns = [
    path("", views.MspEndpointListView.as_view(), name="endpoint_list"),
    path("<uuid:pk>/", views.MspEndpointDetailView.as_view(), name="endpoint_detail"),
    path("<uuid:pk>/rotate/", views.MspEndpointRotateView.as_view(), name="endpoint_rotate"),
    path("<uuid:pk>/test/", views.MspEndpointTestView.as_view(), name="endpoint_test"),
]
