"""Serializers of the rings API. Public ids are UUIDs."""

from __future__ import annotations

from rest_framework import serializers

from inventory.models import Asset, AssetClass, Site
from rings.choices import RollbackOutcome, RolloutSelection
from rings.models import MaintenanceWindow, Ring, Rollout, RunbookCheck, Wave
from tenants.api.serializers import BriefMixin


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's ``full_clean()`` so model rules answer 400, never 500."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = self.instance or self.Meta.model()
        for key, value in attrs.items():
            setattr(instance, key, value)
        instance.full_clean(validate_unique=True)
        return attrs


class RingSerializer(BriefMixin, ValidatedModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    member_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Ring
        fields = [
            "id",
            "key",
            "name",
            "order",
            "assignment",
            "soak_hours",
            "failure_threshold_pct",
            "approver_role",
            "fleet_percent",
            "canary_size",
            "verify_timeout_hours",
            "member_count",
        ]
        brief_fields = ["id", "key", "name", "order"]


class RingBriefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Ring
        fields = ["id", "key", "name", "order"]


class RingMemberSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    asset_class = serializers.SlugRelatedField(slug_field="key", read_only=True)
    pinned = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = ["id", "hostname", "os_family", "role", "asset_class", "pinned"]
        brief_fields = ["id", "hostname"]

    def get_pinned(self, obj: Asset) -> bool:
        return obj.ring_membership.is_pinned


class PinSerializer(serializers.Serializer):
    asset = serializers.SlugRelatedField(slug_field="uuid", queryset=Asset.objects.all())
    pinned = serializers.BooleanField(default=True)


class AssignmentSummarySerializer(serializers.Serializer):
    assets = serializers.IntegerField()
    pinned = serializers.IntegerField()
    created = serializers.IntegerField()
    moved = serializers.IntegerField()


class ApprovalSerializer(serializers.Serializer):
    approved_by = serializers.EmailField(source="approved_by.email")
    role = serializers.CharField()
    approved_at = serializers.DateTimeField()
    note = serializers.CharField()


class WaveSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    ring = RingBriefSerializer(read_only=True)
    approval = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    failure_rate = serializers.SerializerMethodField()

    class Meta:
        model = Wave
        fields = [
            "id",
            "ring",
            "order",
            "state",
            "approval",
            "window_start",
            "window_end",
            "window_confirmed_at",
            "caught_up",
            "notes",
            "promoted_at",
            "deploying_at",
            "deployed_at",
            "verifying_at",
            "soak_started_at",
            "soak_ends_at",
            "passed_at",
            "halted_at",
            "halt_reason",
            "counts",
            "failure_rate",
        ]
        read_only_fields = fields

    def get_approval(self, obj: Wave) -> dict | None:
        approval = getattr(obj, "approval", None)
        return ApprovalSerializer(approval).data if approval else None

    def get_counts(self, obj: Wave) -> dict[str, int]:
        return obj.counts()

    def get_failure_rate(self, obj: Wave) -> str | None:
        rate = obj.failure_rate(obj.counts())
        return str(rate) if rate is not None else None


class RolloutSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    waves = WaveSerializer(many=True, read_only=True)
    findings = serializers.SlugRelatedField(
        slug_field="uuid", many=True, read_only=True, help_text="Finding ids in the rollout."
    )

    class Meta:
        model = Rollout
        fields = [
            "id",
            "name",
            "selection",
            "os_family",
            "patch_identifiers",
            "findings",
            "state",
            "created_by",
            "created_at",
            "halted_at",
            "halt_reason",
            "completed_at",
            "waves",
        ]
        read_only_fields = fields
        brief_fields = ["id", "name", "state"]


class RolloutCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    selection = serializers.ChoiceField(choices=RolloutSelection.choices)
    findings = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    patch_identifiers = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    os_family = serializers.CharField(required=False, allow_blank=True, default="")


class WaveActionSerializer(serializers.Serializer):
    wave = serializers.UUIDField(help_text="The wave (ring) the action applies to.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class HaltSerializer(serializers.Serializer):
    reason = serializers.CharField()


class RollbackSerializer(serializers.Serializer):
    wave = serializers.UUIDField(required=False, allow_null=True, default=None)
    assets = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    what = serializers.CharField()
    outcome = serializers.ChoiceField(choices=RollbackOutcome.choices)


class RunbookRecordSerializer(serializers.Serializer):
    wave = serializers.UUIDField()
    check = serializers.UUIDField()
    passed = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class MaintenanceWindowSerializer(BriefMixin, ValidatedModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    site = serializers.SlugRelatedField(
        slug_field="uuid", queryset=Site.objects.all(), required=False, allow_null=True
    )
    asset_class = serializers.SlugRelatedField(
        slug_field="key", queryset=AssetClass.objects.all(), required=False, allow_null=True
    )
    next_opening = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "scope",
            "site",
            "asset_class",
            "recurrence",
            "weekdays",
            "day_of_month",
            "nth",
            "weekday",
            "offset_days",
            "start_time",
            "duration_minutes",
            "is_active",
            "next_opening",
        ]
        brief_fields = ["id", "name", "scope", "recurrence"]

    def get_next_opening(self, obj: MaintenanceWindow) -> dict | None:
        from django.utils import timezone

        found = obj.current_or_next(timezone.now())
        return {"start": found[0], "end": found[1]} if found else None


class RunbookCheckSerializer(BriefMixin, ValidatedModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = RunbookCheck
        fields = ["id", "name", "description", "order", "halts_on_failure", "is_active"]
        brief_fields = ["id", "name"]


class AssetOutcomeSerializer(serializers.Serializer):
    asset = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["deployed", "failed"])
    message = serializers.CharField(required=False, allow_blank=True, default="")


class WaveResultsSerializer(serializers.Serializer):
    """Outcomes reported by an RMM that executed the wave (the webhook connector's way back)."""

    wave = serializers.UUIDField()
    results = AssetOutcomeSerializer(many=True, allow_empty=False)
