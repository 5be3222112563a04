"""FilterSets shared by the rings pages and API."""

from django_filters import rest_framework as filters

from common.choices import OsFamily
from common.filtering import IsoDateTimeFilter
from inventory.choices import AssetRole
from inventory.models import Asset

from .choices import PlacementTrigger, RolloutState, WindowRecurrence, WindowScope
from .models import MaintenanceWindow, PlacementRun, Rollout


class RolloutFilterSet(filters.FilterSet):
    state = filters.ChoiceFilter(choices=RolloutState.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Rollout
        fields = ["state", "selection", "os_family"]


class MaintenanceWindowFilterSet(filters.FilterSet):
    scope = filters.ChoiceFilter(choices=WindowScope.choices)
    recurrence = filters.ChoiceFilter(choices=WindowRecurrence.choices)

    class Meta:
        model = MaintenanceWindow
        fields = ["scope", "recurrence", "is_active"]


class RingMemberFilterSet(filters.FilterSet):
    os_family = filters.ChoiceFilter(choices=OsFamily.choices)
    role = filters.ChoiceFilter(choices=AssetRole.choices)
    pinned = filters.BooleanFilter(method="filter_pinned")

    class Meta:
        model = Asset
        fields = ["os_family", "role"]

    def filter_pinned(self, queryset, name, value):
        return queryset.filter(ring_membership__source="pinned" if value else "automatic")


class PlacementRunFilterSet(filters.FilterSet):
    trigger = filters.ChoiceFilter(choices=PlacementTrigger.choices)

    class Meta:
        model = PlacementRun
        fields = ["trigger"]
