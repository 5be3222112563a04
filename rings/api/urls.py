"""API of the rings app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

app_name = "rings-api"
router = SimpleRouter()
urlpatterns = router.urls
