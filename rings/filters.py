"""FilterSets shared by the rings pages and API."""

from django import forms
from django_filters import rest_framework as filters

from common.choices import OsFamily
from common.filtering import IsoDateTimeFilter
from inventory.choices import AssetRole
from inventory.models import Asset

from .choices import PlacementTrigger, RolloutSelection, RolloutState, WindowRecurrence, WindowScope
from .models import MaintenanceWindow, PlacementRun, RestoreOutcome, RestoreTest, Rollout


def _yes_no() -> forms.Select:
    """A true/false filter: Any, Yes, No (``?x=true`` / ``?x=false``)."""
    return forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])


class RolloutFilterSet(filters.FilterSet):
    state = filters.ChoiceFilter(choices=RolloutState.choices, label="State", empty_label="Any")
    selection = filters.ChoiceFilter(
        choices=RolloutSelection.choices, label="Selection", empty_label="Any"
    )
    os_family = filters.ChoiceFilter(choices=OsFamily.choices, label="OS family", empty_label="Any")
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created on or after"
    )
    created_before = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before"
    )

    class Meta:
        model = Rollout
        fields = ["state", "selection", "os_family"]


class MaintenanceWindowFilterSet(filters.FilterSet):
    scope = filters.ChoiceFilter(choices=WindowScope.choices, label="Scope", empty_label="Any")
    recurrence = filters.ChoiceFilter(
        choices=WindowRecurrence.choices, label="Recurrence", empty_label="Any"
    )
    is_active = filters.BooleanFilter(label="Active", widget=_yes_no())

    class Meta:
        model = MaintenanceWindow
        fields = ["scope", "recurrence", "is_active"]


class RingMemberFilterSet(filters.FilterSet):
    os_family = filters.ChoiceFilter(choices=OsFamily.choices, label="OS family", empty_label="Any")
    role = filters.ChoiceFilter(choices=AssetRole.choices, label="Role", empty_label="Any")
    pinned = filters.BooleanFilter(method="filter_pinned", label="Pinned", widget=_yes_no())

    class Meta:
        model = Asset
        fields = ["os_family", "role"]

    def filter_pinned(self, queryset, name, value):
        return queryset.filter(ring_membership__source="pinned" if value else "automatic")


class PlacementRunFilterSet(filters.FilterSet):
    trigger = filters.ChoiceFilter(
        choices=PlacementTrigger.choices, label="Trigger", empty_label="Any"
    )

    class Meta:
        model = PlacementRun
        fields = ["trigger"]


class RestoreTestFilterSet(filters.FilterSet):
    outcome = filters.ChoiceFilter(
        choices=RestoreOutcome.choices, label="Outcome", empty_label="Any"
    )
    asset = filters.UUIDFilter(field_name="asset__uuid", label="System (asset id)")
    performed_after = IsoDateTimeFilter(
        field_name="performed_at", lookup_expr="gte", label="Done on or after"
    )
    performed_before = IsoDateTimeFilter(
        field_name="performed_at", lookup_expr="lt", label="Done before"
    )

    class Meta:
        model = RestoreTest
        fields = ["outcome", "asset"]
