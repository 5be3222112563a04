"""API of the integrations app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

app_name = "integrations-api"
router = SimpleRouter()
urlpatterns = router.urls
