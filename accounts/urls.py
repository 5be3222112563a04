"""A client's People page, under /clients/<slug>/people/."""

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("people/", views.PeoplePage.as_view(), name="people"),
]
