"""A client's sign-in security page, under /clients/<slug>/ (the client URLconf)."""

from django.urls import path

from . import views

app_name = "accounts-security"
urlpatterns = [
    path("security/", views.ClientSecurityView.as_view(), name="client_security"),
]
