"""Public pages of the notifications (outside any client)."""

from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("accounts/notifications/", views.PreferencesPage.as_view(), name="preferences"),
    path("notifications/chat-webhooks/", views.ChatWebhooksPage.as_view(), name="chat_webhooks"),
]
