"""FilterSets shared by the inventory pages and the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from common.choices import OsFamily
from common.filtering import IsoDateTimeFilter

from .choices import (
    AssetRole,
    DiscoveryRunSource,
    DiscoveryRunStatus,
    SoftwareCategory,
    SoftwareKind,
    UnknownDeviceState,
)
from .models import Asset, DiscoveryRun, InstalledSoftware, InventorySnapshot, UnknownDevice

__all__ = [
    "AssetFilterSet",
    "SoftwareFilterSet",
    "UnknownDeviceFilterSet",
    "DiscoveryRunFilterSet",
    "SnapshotFilterSet",
]


class AssetFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search")
    os_family = filters.MultipleChoiceFilter(choices=OsFamily.choices)
    role = filters.MultipleChoiceFilter(choices=AssetRole.choices)
    asset_class = filters.CharFilter(field_name="asset_class__key", label="Asset class (key)")
    is_ephi = filters.BooleanFilter(field_name="is_ephi", label="ePHI system")
    data_flow = filters.CharFilter(field_name="data_flows", lookup_expr="contains", method="flow")
    is_stale = filters.BooleanFilter(field_name="is_stale", label="Stale")
    is_managed = filters.BooleanFilter(field_name="is_managed", label="Managed")
    unknown = filters.BooleanFilter(field_name="is_managed", exclude=True, label="Unknown")
    site = filters.CharFilter(field_name="site__name", lookup_expr="iexact")
    seen_after = IsoDateTimeFilter(field_name="last_seen", lookup_expr="gte")
    seen_before = IsoDateTimeFilter(field_name="last_seen", lookup_expr="lt")

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
        return queryset.filter(data_flows__contains=[value.lower()])


class SoftwareFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search")
    asset = filters.UUIDFilter(field_name="asset__uuid")
    category = filters.MultipleChoiceFilter(choices=SoftwareCategory.choices)
    kind = filters.MultipleChoiceFilter(choices=SoftwareKind.choices)
    name = filters.CharFilter(lookup_expr="icontains")
    vendor = filters.CharFilter(lookup_expr="icontains")
    version = filters.CharFilter()
    os_family = filters.ChoiceFilter(field_name="asset__os_family", choices=OsFamily.choices)

    class Meta:
        model = InstalledSoftware
        fields = ["asset", "category", "kind", "name", "vendor", "version"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(vendor__icontains=value))


class UnknownDeviceFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=UnknownDeviceState.choices)
    mac_vendor = filters.CharFilter(lookup_expr="icontains")
    seen_after = IsoDateTimeFilter(field_name="last_seen", lookup_expr="gte")

    class Meta:
        model = UnknownDevice
        fields = ["state", "mac_vendor"]


class DiscoveryRunFilterSet(filters.FilterSet):
    source = filters.MultipleChoiceFilter(choices=DiscoveryRunSource.choices)
    status = filters.MultipleChoiceFilter(choices=DiscoveryRunStatus.choices)
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = DiscoveryRun
        fields = ["source", "status"]


class SnapshotFilterSet(filters.FilterSet):
    month = filters.DateFilter()
    is_scheduled = filters.BooleanFilter()

    class Meta:
        model = InventorySnapshot
        fields = ["month", "is_scheduled"]
