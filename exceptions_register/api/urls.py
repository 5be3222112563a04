"""API of the exceptions_register app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from .views import RiskExceptionViewSet

app_name = "exceptions-register-api"
router = SimpleRouter()
router.register("exceptions", RiskExceptionViewSet, basename="exceptions")
urlpatterns = router.urls
