"""HTML pages of exposure monitoring, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "exposure"
urlpatterns = [
    path("exposure/", views.AlertListView.as_view(), name="alert_list"),
    path("exposure/<uuid:uuid>/", views.AlertDetailView.as_view(), name="alert_detail"),
]
