"""API of the exceptions_register app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

app_name = "exceptions-register-api"
router = SimpleRouter()
urlpatterns = router.urls
