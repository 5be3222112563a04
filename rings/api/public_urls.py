"""MSP-wide API of the rings app, under /api/v1/: the patch policy templates."""

from rest_framework.routers import SimpleRouter

from rings.api.policy_views import PolicyTemplateViewSet

app_name = "policy-templates-api"
router = SimpleRouter()
router.register("patch-policy-templates", PolicyTemplateViewSet, basename="patch-policy-template")
urlpatterns = router.urls
