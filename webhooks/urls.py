"""Pages of a client's webhook endpoints, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [
    path("webhooks/", views.EndpointListView.as_view(), name="endpoint_list"),
    path("webhooks/<uuid:pk>/", views.EndpointDetailView.as_view(), name="endpoint_detail"),
    path("webhooks/<uuid:pk>/rotate/", views.EndpointRotateView.as_view(), name="endpoint_rotate"),
    path("webhooks/<uuid:pk>/test/", views.EndpointTestView.as_view(), name="endpoint_test"),
    path(
        "webhooks/<uuid:pk>/deliveries/<uuid:delivery>/retry/",
        views.DeliveryRetryView.as_view(),
        name="delivery_retry",
    ),
]
