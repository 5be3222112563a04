"""The client's API tokens page, under /clients/<slug>/."""

from django.urls import path

from .token_views import TokenListView

app_name = "tokens"

urlpatterns = [
    path("tokens/", TokenListView.as_view(), name="apitoken_list"),
]
