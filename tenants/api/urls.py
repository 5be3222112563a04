from rest_framework.routers import DefaultRouter

from tenants.api.views import ClientViewSet

app_name = "tenants-api"
router = DefaultRouter()
router.register("clients", ClientViewSet, basename="client")
urlpatterns = router.urls
