"""A client's upload pages, under /clients/<slug>/uploads/."""

from django.urls import path

from . import views

app_name = "uploads"
urlpatterns = [
    path("uploads/", views.InventoryUploadsPage.as_view(), name="list"),
    path("uploads/<uuid:uuid>/", views.InventoryUploadDetail.as_view(), name="detail"),
    path(
        "uploads/<uuid:uuid>/status/",
        views.InventoryUploadDetail.as_view(as_json=True),
        name="status",
    ),
]
