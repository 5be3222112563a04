"""Serializers of the inventory API. Public ids are UUIDs."""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from common.apifields import BoundedSlugRelatedField
from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH
from tenants.api.serializers import BriefMixin

from ..choices import AssetRole, DataFlow, RebootApproval
from ..models import (
    Asset,
    AssetClass,
    DiscoveryRun,
    DiscoverySchedule,
    InstalledSoftware,
    InventorySnapshot,
    PendingUpdate,
    SoftwareChange,
    SoftwarePolicy,
    UnknownDevice,
)

__all__ = [
    "AssetSerializer",
    "AssetDetailSerializer",
    "AssetTagSerializer",
    "AssetEditSerializer",
    "BulkTagSerializer",
    "SoftwareSerializer",
    "UnknownDeviceSerializer",
    "AdoptSerializer",
    "DismissSerializer",
    "DiscoveryRunSerializer",
    "SnapshotSerializer",
    "SoftwarePolicySerializer",
]


class AssetBriefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Asset
        fields = ["id", "hostname", "os_family"]


class AssetSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    asset_class = serializers.SlugRelatedField(slug_field="key", read_only=True)
    site = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    # Declared so the schema admits the blank value (no manual-approval restart pending).
    reboot_approval = serializers.ChoiceField(
        choices=RebootApproval.choices,
        allow_blank=True,
        read_only=True,
        help_text=(
            "Under the manual-approval reboot policy: awaiting a person's approval, or "
            "approved (blank otherwise)."
        ),
    )

    class Meta:
        model = Asset
        fields = [
            "id",
            "hostname",
            "os_family",
            "os_name",
            "os_version",
            "os_build",
            "role",
            "asset_class",
            "is_ephi",
            "data_flows",
            "owner",
            "location",
            "site",
            "is_managed",
            "is_stale",
            "source",
            "agent_id",
            "hardware_serial",
            "mac_addresses",
            "ip_addresses",
            "first_seen",
            "last_seen",
            "reboot_pending",
            "reboot_pending_since",
            "reboot_approval",
            "reboot_approved_by",
            "reboot_approved_at",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "hostname", "os_family"]
        extra_kwargs = {
            "reboot_pending": {"help_text": "The device reports a restart pending."},
            "reboot_pending_since": {"help_text": "Since when the restart is pending."},
            "reboot_approved_by": {"help_text": "Who approved the pending restart."},
            "reboot_approved_at": {"help_text": "When the pending restart was approved."},
        }


class PendingUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = PendingUpdate
        fields = [
            "name",
            "installed_version",
            "available_version",
            "source",
            "advisory",
            "cves",
            "severity",
            "reboot_required",
            "reported_at",
        ]


class AssetDetailSerializer(AssetSerializer):
    pending_updates = PendingUpdateSerializer(many=True, read_only=True)
    software_count = serializers.SerializerMethodField()

    class Meta(AssetSerializer.Meta):
        fields = AssetSerializer.Meta.fields + ["software_count", "pending_updates"]
        read_only_fields = fields

    def get_software_count(self, obj: Asset) -> int:
        return obj.software.count()


class SoftwareChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SoftwareChange
        fields = ["change", "kind", "name", "arch", "from_version", "to_version", "at"]


class AssetTagSerializer(serializers.Serializer):
    is_ephi = serializers.BooleanField(required=False, help_text="ePHI system: yes/no")
    data_flows = serializers.ListField(
        child=serializers.ChoiceField(choices=DataFlow.choices), required=False
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Give is_ephi and/or data_flows.")
        return attrs


class AssetEditSerializer(serializers.Serializer):
    """PATCH body of one asset: any of its business attributes (people decide them; an agent
    token cannot send this). Keys outside these are refused, nothing is changed."""

    asset_class = serializers.CharField(required=False, max_length=50, help_text="Asset class key")
    role = serializers.ChoiceField(choices=AssetRole.choices, required=False)
    owner = serializers.CharField(required=False, allow_blank=True, max_length=200)
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    site = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=120,
        help_text="Site name; empty: no site",
    )
    is_ephi = serializers.BooleanField(required=False, help_text="ePHI system: yes/no")
    data_flows = serializers.ListField(
        child=serializers.ChoiceField(choices=DataFlow.choices), required=False
    )

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Not an editable attribute of an asset."] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError(f"Give at least one of {', '.join(self.fields)}.")
        return attrs


class BulkTagSerializer(AssetTagSerializer):
    assets = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=5000, help_text="Asset ids"
    )

    def validate(self, attrs: dict) -> dict:
        if "is_ephi" not in attrs and "data_flows" not in attrs:
            raise serializers.ValidationError("Give is_ephi and/or data_flows.")
        return attrs


class SoftwareSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    asset = AssetBriefSerializer(read_only=True)

    class Meta:
        model = InstalledSoftware
        fields = [
            "id",
            "asset",
            "kind",
            "name",
            "version",
            "arch",
            "vendor",
            "category",
            "install_date",
            "first_seen",
            "last_seen",
            "updated_at",
        ]
        brief_fields = ["id", "name", "version"]


class UnknownDeviceSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    adopted_asset = AssetBriefSerializer(read_only=True)
    os_guesses = serializers.ListField(child=serializers.DictField(), read_only=True)
    open_ports = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = UnknownDevice
        fields = [
            "id",
            "display_name",
            "ip",
            "mac",
            "mac_vendor",
            "hostnames",
            "os_guesses",
            "open_ports",
            "source_name",
            "state",
            "dismiss_reason",
            "decided_by",
            "decided_at",
            "adopted_asset",
            "first_seen",
            "last_seen",
            "updated_at",
        ]
        brief_fields = ["id", "display_name", "ip", "mac", "state"]


class AdoptSerializer(serializers.Serializer):
    hostname = serializers.CharField(required=False, allow_blank=True, max_length=255)
    asset_class = BoundedSlugRelatedField(
        slug_field="key", queryset=AssetClass.objects.all(), required=False, max_length=50
    )
    role = serializers.ChoiceField(choices=AssetRole.choices, default=AssetRole.OTHER)
    os_family = serializers.ChoiceField(choices=OsFamily.choices, default=OsFamily.OTHER)


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class DiscoveryRunSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    errors = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = DiscoveryRun
        fields = [
            "id",
            "source",
            "source_name",
            "format",
            "actor",
            "status",
            "started_at",
            "finished_at",
            "counts",
            "errors",
            "updated_at",
        ]
        brief_fields = ["id", "source", "status", "started_at"]


class SnapshotSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    csv_url = serializers.SerializerMethodField()
    json_url = serializers.SerializerMethodField()

    # Written once, never changed: its change time is when it was written.
    updated_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = InventorySnapshot
        fields = [
            "id",
            "month",
            "taken_on",
            "asset_count",
            "software_count",
            "csv_sha256",
            "json_sha256",
            "csv_url",
            "json_url",
            "is_scheduled",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "taken_on", "csv_sha256", "json_sha256"]

    def _url(self, obj: InventorySnapshot, kind: str) -> str:
        return f"snapshots/{obj.uuid}/download/?file={kind}"

    def get_csv_url(self, obj: InventorySnapshot) -> str:
        return self._url(obj, "csv")

    def get_json_url(self, obj: InventorySnapshot) -> str:
        return self._url(obj, "json")


class DiscoveryScheduleSerializer(serializers.ModelSerializer):
    cadence = serializers.SerializerMethodField(help_text="Client setting: daily or weekly")
    time_zone = serializers.SerializerMethodField()
    next_run_at = serializers.SerializerMethodField()
    local_hour = serializers.IntegerField(min_value=0, max_value=23, required=False)
    weekday = serializers.IntegerField(
        min_value=0, max_value=6, required=False, help_text="0 = Monday … 6 = Sunday (weekly)"
    )

    class Meta:
        model = DiscoverySchedule
        fields = ["cadence", "time_zone", "local_hour", "weekday", "is_enabled", "next_run_at"]

    def get_cadence(self, obj: DiscoverySchedule) -> str:
        return self.context["client"].discovery_cadence

    def get_time_zone(self, obj: DiscoverySchedule) -> str:
        return self.context["client"].timezone

    def get_next_run_at(self, obj: DiscoverySchedule) -> datetime | None:
        from django.utils import timezone

        from ..schedule import next_discovery_slot

        if not obj.is_enabled:
            return None
        client = self.context["client"]
        return next_discovery_slot(
            now=timezone.now(),
            tz=client.tz,
            cadence=client.discovery_cadence,
            hour=obj.local_hour,
            weekday=obj.weekday,
        )


class SoftwarePolicySerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = SoftwarePolicy
        fields = ["id", "name_pattern", "is_supported", "notes", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        brief_fields = ["id", "name_pattern", "is_supported"]
