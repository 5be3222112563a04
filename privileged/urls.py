"""HTML pages of the privileged app, under /clients/<slug>/."""

from django.urls import path

from . import views

app_name = "privileged"
P = "privileged-accounts/"
urlpatterns = [
    path(P, views.AccountListView.as_view(), name="account_list"),
    path(f"{P}new/", views.AccountFormView.as_view(mode="create"), name="account_add"),
    path(f"{P}grace/", views.GraceView.as_view(), name="grace"),
    path(f"{P}leavers/", views.LeaverView.as_view(), name="leaver"),
    path(
        f"{P}offboarding/<uuid:uuid>/",
        views.ChecklistDetailView.as_view(),
        name="checklist_detail",
    ),
    path(
        f"{P}offboarding/<uuid:uuid>/items/<uuid:item>/",
        views.TickView.as_view(),
        name="checklist_tick",
    ),
    path(f"{P}<uuid:uuid>/", views.AccountDetailView.as_view(), name="account_detail"),
    path(f"{P}<uuid:uuid>/edit/", views.AccountFormView.as_view(mode="edit"), name="account_edit"),
    *[
        path(
            f"{P}<uuid:uuid>/{action}/",
            views.AccountActionView.as_view(action=action),
            name=f"account_{action}",
        )
        for action in ("rotate", "review", "use", "disable", "enable")
    ],
]
