"""MSP-wide API of the webhook endpoints (every client), under /api/v1/."""

from rest_framework.routers import SimpleRouter

from webhooks.api.views import MspEndpointViewSet

app_name = "msp-webhooks-api"
router = SimpleRouter()
router.register("msp-webhooks", MspEndpointViewSet, basename="msp-webhook")
urlpatterns = router.urls
