"""API of the inventory app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

app_name = "inventory-api"
router = SimpleRouter()
urlpatterns = router.urls
