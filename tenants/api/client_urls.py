from django.urls import path

from tenants.api.views import CurrentClientView

urlpatterns = [
    path("client/", CurrentClientView.as_view(), name="current-client"),
]
