"""/accounts/passkeys/: a person's own passkeys (public URLconf)."""

from django.urls import path

from . import views

app_name = "passkeys"
urlpatterns = [
    path("", views.PasskeyListView.as_view(), name="passkey_list"),
    path(
        "register/options/",
        views.RegistrationOptionsView.as_view(),
        name="passkey_register_options",
    ),
    path("register/", views.RegistrationView.as_view(), name="passkey_register"),
    path("verify/options/", views.VerifyOptionsView.as_view(), name="passkey_verify_options"),
    path("verify/", views.VerifyView.as_view(), name="passkey_verify"),
]
