"""Django admin for the inventory (read-mostly: discovery writes go through the services)."""

from django.contrib import admin

from .models import (
    Asset,
    AssetClass,
    DiscoveryRun,
    DiscoverySchedule,
    InventorySnapshot,
    Site,
    SoftwarePolicy,
    SoftwarePolicyReview,
    UnknownDevice,
)


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = [
        "hostname",
        "os_family",
        "role",
        "asset_class",
        "is_ephi",
        "is_stale",
        "last_seen",
    ]
    list_filter = ["os_family", "role", "asset_class", "is_ephi", "is_stale", "is_managed"]
    search_fields = ["hostname", "agent_id", "hardware_serial"]
    readonly_fields = ["uuid", "first_seen", "last_seen", "software_tables", "source"]


@admin.register(DiscoveryRun)
class DiscoveryRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "source", "source_name", "status", "finished_at"]
    list_filter = ["source", "status"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UnknownDevice)
class UnknownDeviceAdmin(admin.ModelAdmin):
    list_display = ["ip", "mac", "mac_vendor", "state", "last_seen"]
    list_filter = ["state"]


@admin.register(InventorySnapshot)
class InventorySnapshotAdmin(admin.ModelAdmin):
    list_display = ["taken_on", "asset_count", "software_count", "csv_sha256", "is_scheduled"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.register([AssetClass, Site, SoftwarePolicy, SoftwarePolicyReview, DiscoverySchedule])
