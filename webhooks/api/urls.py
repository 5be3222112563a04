"""API of a client's webhook endpoints, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from webhooks.api.views import ClientEndpointViewSet

app_name = "webhooks-api"
router = SimpleRouter()
router.register("webhooks", ClientEndpointViewSet, basename="webhook")
urlpatterns = router.urls
