"""FilterSets shared by the inventory pages and the API."""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from common.choices import OsFamily
from common.filtering import IsoDateTimeFilter

from .choices import (
    AssetRole,
    DataFlow,
    DiscoveryRunSource,
    DiscoveryRunStatus,
    RebootApproval,
    SoftwareCategory,
    SoftwareKind,
    UnknownDeviceState,
)
from .models import Asset, DiscoveryRun, InstalledSoftware, InventorySnapshot, UnknownDevice

__all__ = [
    "ANY",
    "yes_no",
    "AssetFilterSet",
    "SoftwareFilterSet",
    "UnknownDeviceFilterSet",
    "DiscoveryRunFilterSet",
    "SnapshotFilterSet",
]


# Every filter of a page has a human label and "Any" as its empty choice; several values are
# checkboxes, never a native multi-select box. The API reads the same filters (the widgets only
# shape the pages).
ANY = ("", "Any")


def yes_no(yes: str = "Yes", no: str = "No") -> forms.Select:
    """A true/false filter's widget: Any, yes, no (``?x=true`` / ``?x=false`` as before)."""
    return forms.Select(choices=[ANY, ("true", yes), ("false", no)])


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple


class AssetFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search")
    os_family = filters.MultipleChoiceFilter(
        choices=OsFamily.choices, label="OS family", widget=_checkboxes()
    )
    role = filters.MultipleChoiceFilter(
        choices=AssetRole.choices, label="Role", widget=_checkboxes()
    )
    asset_class = filters.CharFilter(field_name="asset_class__key", label="Class")
    is_ephi = filters.BooleanFilter(
        field_name="is_ephi",
        label="ePHI system",
        widget=yes_no("ePHI system: yes", "ePHI system: no"),
    )
    data_flow = filters.ChoiceFilter(
        choices=DataFlow.choices, method="flow", label="Data flow", empty_label="Any"
    )
    is_stale = filters.BooleanFilter(field_name="is_stale", label="Stale", widget=yes_no())
    is_managed = filters.BooleanFilter(field_name="is_managed", label="Managed", widget=yes_no())
    unknown = filters.BooleanFilter(
        field_name="is_managed", exclude=True, label="Unknown", widget=yes_no()
    )
    site = filters.CharFilter(field_name="site__name", lookup_expr="iexact", label="Site")
    reboot_pending = filters.BooleanFilter(
        field_name="reboot_pending", label="Reboot pending", widget=yes_no()
    )
    reboot_approval = filters.ChoiceFilter(
        choices=RebootApproval.choices, label="Reboot approval", empty_label="Any"
    )
    seen_after = IsoDateTimeFilter(
        field_name="last_seen", lookup_expr="gte", label="Last seen on or after"
    )
    seen_before = IsoDateTimeFilter(
        field_name="last_seen", lookup_expr="lt", label="Last seen before"
    )

    class Meta:
        model = Asset
        fields = [
            "os_family",
            "role",
            "asset_class",
            "is_ephi",
            "is_stale",
            "is_managed",
            "unknown",
            "reboot_pending",
            "reboot_approval",
        ]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(hostname__icontains=value)
            | Q(os_name__icontains=value)
            | Q(owner__icontains=value)
            | Q(location__icontains=value)
            | Q(hardware_serial__iexact=value)
            | Q(agent_id__iexact=value)
        )

    def flow(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(data_flows__contains=[value.lower()])


class SoftwareFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search")
    asset = filters.UUIDFilter(field_name="asset__uuid", label="Asset id")
    category = filters.MultipleChoiceFilter(
        choices=SoftwareCategory.choices, label="Category", widget=_checkboxes()
    )
    kind = filters.MultipleChoiceFilter(
        choices=SoftwareKind.choices, label="Kind", widget=_checkboxes()
    )
    name = filters.CharFilter(lookup_expr="icontains", label="Name contains")
    vendor = filters.CharFilter(lookup_expr="icontains", label="Vendor contains")
    version = filters.CharFilter(label="Version (exact)")
    os_family = filters.ChoiceFilter(
        field_name="asset__os_family",
        choices=OsFamily.choices,
        label="OS family",
        empty_label="Any",
    )

    class Meta:
        model = InstalledSoftware
        fields = ["asset", "category", "kind", "name", "vendor", "version"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(vendor__icontains=value))


class UnknownDeviceFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(
        choices=UnknownDeviceState.choices, label="State", widget=_checkboxes()
    )
    mac_vendor = filters.CharFilter(lookup_expr="icontains", label="MAC vendor")
    seen_after = IsoDateTimeFilter(
        field_name="last_seen", lookup_expr="gte", label="Last seen on or after"
    )

    class Meta:
        model = UnknownDevice
        fields = ["state", "mac_vendor"]


class DiscoveryRunFilterSet(filters.FilterSet):
    source = filters.MultipleChoiceFilter(
        choices=DiscoveryRunSource.choices, label="Source", widget=_checkboxes()
    )
    status = filters.MultipleChoiceFilter(
        choices=DiscoveryRunStatus.choices, label="Status", widget=_checkboxes()
    )
    started_after = IsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", label="Started on or after"
    )
    started_before = IsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", label="Started before"
    )

    class Meta:
        model = DiscoveryRun
        fields = ["source", "status"]


class SnapshotFilterSet(filters.FilterSet):
    month = filters.DateFilter(label="Month (first day, YYYY-MM-01)")
    is_scheduled = filters.BooleanFilter(label="Scheduled", widget=yes_no())

    class Meta:
        model = InventorySnapshot
        fields = ["month", "is_scheduled"]
