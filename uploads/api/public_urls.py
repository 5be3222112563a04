"""The MSP's catalogue upload API, under /api/v1/catalogue-uploads/."""

from rest_framework.routers import SimpleRouter

from . import views

app_name = "catalogue-uploads-api"
router = SimpleRouter()
router.register("catalogue-uploads", views.CatalogueUploadViewSet, basename="catalogue-upload")
urlpatterns = router.urls
