"""API of the patchops app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

app_name = "patchops-api"
router = SimpleRouter()
urlpatterns = router.urls
