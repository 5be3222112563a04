"""API of the privileged app, under /clients/<slug>/api/v1/."""

from rest_framework.routers import SimpleRouter

from .views import OffboardingChecklistViewSet, PrivilegedAccountViewSet, PrivilegedIssueViewSet

app_name = "privileged-api"
router = SimpleRouter()
router.register("privileged-accounts", PrivilegedAccountViewSet, basename="privileged-accounts")
router.register("privileged-issues", PrivilegedIssueViewSet, basename="privileged-issues")
router.register(
    "offboarding-checklists", OffboardingChecklistViewSet, basename="offboarding-checklists"
)
urlpatterns = router.urls
