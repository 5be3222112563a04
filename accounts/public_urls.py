"""Account pages of the public root, under /accounts/ (beside sign-in and sign-out)."""

from django.urls import path

from . import views
from .token_views import MspTokenListView

app_name = "accounts"
urlpatterns = [
    path("invitations/<str:token>/", views.AcceptInvitation.as_view(), name="invitation_accept"),
    path("password/reset/", views.PasswordReset.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDone.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        views.PasswordResetComplete.as_view(),
        name="password_reset_complete",
    ),
    path("password/change/", views.PasswordChange.as_view(), name="password_change"),
    path("sessions/", views.SessionsPage.as_view(), name="sessions"),
    path("users/", views.UsersPage.as_view(), name="users"),
    path("tokens/", MspTokenListView.as_view(), name="msp_tokens"),
]
