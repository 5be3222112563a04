"""A client's upload API, under /clients/<slug>/api/v1/uploads/."""

from rest_framework.routers import SimpleRouter

from . import views

app_name = "uploads-api"
router = SimpleRouter()
router.register("uploads", views.InventoryUploadViewSet, basename="upload")
urlpatterns = router.urls
