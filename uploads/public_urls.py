"""The MSP's catalogue upload pages, under /catalogue-uploads/."""

from django.urls import path

from . import views

app_name = "catalogue-uploads"
urlpatterns = [
    path("", views.CatalogueUploadsPage.as_view(), name="list"),
    path("<uuid:uuid>/", views.CatalogueUploadDetail.as_view(), name="detail"),
    path("<uuid:uuid>/status/", views.CatalogueUploadDetail.as_view(as_json=True), name="status"),
]
