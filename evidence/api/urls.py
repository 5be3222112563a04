"""API of the evidence app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

app_name = "evidence-api"
router = SimpleRouter()
urlpatterns = router.urls
