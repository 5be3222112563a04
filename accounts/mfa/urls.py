"""The signed-in user's second-factor pages, under /accounts/mfa/ (public URLconf)."""

from django.urls import path

from . import views

app_name = "accounts-mfa"
urlpatterns = [
    path("", views.ManageView.as_view(), name="manage"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("enrol/", views.EnrolView.as_view(), name="enrol"),
    path("recovery-codes/", views.RegenerateCodesView.as_view(), name="regenerate"),
    path("remove/", views.RemoveFactorView.as_view(), name="remove"),
]
