"""Serializers of the rings API. Public ids are UUIDs."""

from __future__ import annotations

from rest_framework import serializers

from common.apifields import BoundedSlugRelatedField
from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH
from inventory.models import Asset, AssetClass, Site
from rings.choices import RollbackOutcome, RolloutSelection
from rings.models import (
    MaintenanceWindow,
    PlacementRun,
    Ring,
    RollbackEvent,
    RollbackTarget,
    Rollout,
    RunbookCheck,
    Wave,
)
from rings.services import required_approver
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
    """``approver_role: "none"``: promotion into the ring needs no person, only the previous
    ring's soak, failure threshold and runbook checks."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    member_count = serializers.IntegerField(read_only=True, default=0)
    automatic_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Members placed by the automatic placement."
    )
    pinned_count = serializers.IntegerField(read_only=True, default=0)
    first_seen_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Members placed automatically when first seen."
    )
    last_placed_at = serializers.DateTimeField(
        read_only=True,
        default=None,
        allow_null=True,
        help_text="Latest automatic placement into this ring.",
    )

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
            "automatic_count",
            "pinned_count",
            "first_seen_count",
            "last_placed_at",
            "updated_at",
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
    placed_by = serializers.CharField(
        source="ring_membership.placed_by",
        read_only=True,
        help_text="first_seen, schedule, request, ring_removed or pin.",
    )
    assigned_at = serializers.DateTimeField(source="ring_membership.assigned_at", read_only=True)

    class Meta:
        model = Asset
        fields = [
            "id",
            "hostname",
            "os_family",
            "role",
            "asset_class",
            "pinned",
            "placed_by",
            "assigned_at",
            "updated_at",
        ]
        brief_fields = ["id", "hostname"]

    def get_pinned(self, obj: Asset) -> bool:
        return obj.ring_membership.is_pinned


class PlacementRunSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    # Written once, never changed: its change time is when it was written.
    updated_at = serializers.DateTimeField(source="ran_at", read_only=True)

    class Meta:
        model = PlacementRun
        fields = [
            "id",
            "trigger",
            "ran_at",
            "actor",
            "assets",
            "placed",
            "moved",
            "held",
            "pinned",
            "rings",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "trigger", "ran_at", "placed"]


class PinSerializer(serializers.Serializer):
    asset = serializers.SlugRelatedField(slug_field="uuid", queryset=Asset.objects.all())
    pinned = serializers.BooleanField(default=True)


class AssignmentSummarySerializer(serializers.Serializer):
    trigger = serializers.CharField()
    assets = serializers.IntegerField()
    pinned = serializers.IntegerField()
    held = serializers.IntegerField(help_text="Left in place: an unfinished rollout carries them.")
    created = serializers.IntegerField()
    moved = serializers.IntegerField()


class ApprovalSerializer(serializers.Serializer):
    approved_by = serializers.EmailField(source="approved_by.email")
    role = serializers.CharField()
    approved_at = serializers.DateTimeField()
    note = serializers.CharField()


class WaveSerializer(serializers.ModelSerializer):
    """``state`` is one of pending, awaiting, prechecks, deploying, deployed, verifying, soaking,
    passed, halted or skipped (the ring held no device needing the patches: never passed)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    ring = RingBriefSerializer(read_only=True)
    approval = serializers.SerializerMethodField()
    required_approver = serializers.SerializerMethodField(
        help_text="Role whose approval promotion needs; null when the ring promotes on its own."
    )
    soak_hours = serializers.IntegerField(source="effective_soak_hours", read_only=True)
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
            "required_approver",
            "soak_hours",
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
            "skipped_at",
            "halted_at",
            "halt_reason",
            "resumed_at",
            "accepted_failed",
            "counts",
            "failure_rate",
        ]
        read_only_fields = fields

    def get_required_approver(self, obj: Wave) -> str | None:
        return required_approver(obj)

    def get_approval(self, obj: Wave) -> dict | None:
        approval = getattr(obj, "approval", None)
        return ApprovalSerializer(approval).data if approval else None

    def get_counts(self, obj: Wave) -> dict[str, int]:
        return obj.counts()

    def get_failure_rate(self, obj: Wave) -> str | None:
        rate = obj.failure_rate(obj.counts())
        return str(rate) if rate is not None else None


class RollbackTargetSerializer(serializers.ModelSerializer):
    asset = serializers.UUIDField(source="asset.uuid", read_only=True)
    hostname = serializers.CharField(source="asset.hostname", read_only=True)

    class Meta:
        model = RollbackTarget
        fields = ["asset", "hostname", "status", "finished_at", "message", "packages"]
        read_only_fields = fields


class RollbackEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    wave = serializers.UUIDField(source="wave.uuid", read_only=True, default=None, allow_null=True)
    reason = serializers.CharField(source="what", read_only=True)
    targets = RollbackTargetSerializer(many=True, read_only=True)

    class Meta:
        model = RollbackEvent
        fields = [
            "id",
            "wave",
            "actor",
            "occurred_at",
            "reason",
            "outcome",
            "is_manual",
            "connector",
            "completed_at",
            "targets",
        ]
        read_only_fields = fields


class RolloutSerializer(BriefMixin, serializers.ModelSerializer):
    """``expedited`` marks the emergency lane (shortened soak, every wave approved by a person,
    deploys without waiting for a maintenance window). ``state`` ``nothing_deployed``: every
    wave was skipped or left nothing deployed; such a rollout is never a success."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    waves = WaveSerializer(many=True, read_only=True)
    findings = serializers.SlugRelatedField(
        slug_field="uuid", many=True, read_only=True, help_text="Finding ids in the rollout."
    )
    expedited = serializers.BooleanField(source="is_expedited", read_only=True)
    rollbacks = RollbackEventSerializer(many=True, read_only=True)

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
            "resumed_at",
            "resumed_by",
            "resume_reason",
            "completed_at",
            "expedited",
            "expedite_reason",
            "expedite_due_at",
            "expedite_soak_hours",
            "waves",
            "rollbacks",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "name", "state", "expedited"]


class RolloutCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    selection = serializers.ChoiceField(choices=RolloutSelection.choices)
    findings = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    patch_identifiers = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    os_family = serializers.ChoiceField(
        choices=OsFamily.choices, required=False, allow_blank=True, default=""
    )
    expedite = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Emergency lane for critical and KEV findings due before the rings' combined "
        "soak ends (a person only, with ``expedite_reason``).",
    )
    expedite_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )
    soak_hours = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=720,
        help_text="Expedited only: the shortened soak per ring (default: a share that fits).",
    )


class RingPreviewSerializer(serializers.Serializer):
    ring = serializers.CharField()
    name = serializers.CharField()
    members = serializers.IntegerField()
    devices = serializers.IntegerField(help_text="Members that would be patched.")
    findings = serializers.IntegerField()
    soak_hours = serializers.IntegerField()
    will_skip = serializers.BooleanField()


class ExpediteCheckSerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reason = serializers.CharField()
    earliest_due = serializers.DateTimeField(allow_null=True)
    combined_soak_hours = serializers.IntegerField()
    suggested_soak_hours = serializers.IntegerField(allow_null=True)


class RolloutPreviewSerializer(serializers.Serializer):
    findings = serializers.IntegerField()
    devices = serializers.IntegerField()
    rings = RingPreviewSerializer(many=True)
    expedite = ExpediteCheckSerializer()


class ResumeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class WaveActionSerializer(serializers.Serializer):
    wave = serializers.UUIDField(help_text="The wave (ring) the action applies to.")
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )


class HaltSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class RollbackSerializer(serializers.Serializer):
    """Without ``outcome``: queue rollback jobs (agents, or the RMM when one is configured) for
    the given assets, else for every asset the wave (or the rollout) deployed to. With
    ``outcome``: record a rollback done by hand outside PatchOps."""

    wave = serializers.UUIDField(required=False, allow_null=True, default=None)
    assets = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    what = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, help_text="What is rolled back, and why."
    )
    outcome = serializers.ChoiceField(
        choices=[c for c in RollbackOutcome.choices if c[0] != RollbackOutcome.PENDING],
        required=False,
        allow_null=True,
        default=None,
    )


class RollbackOutcomeSerializer(serializers.Serializer):
    asset = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["rolled_back", "failed"])
    message = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )


class RollbackResultsSerializer(serializers.Serializer):
    """Outcomes of a rollback an RMM executed (the webhook connector's way back)."""

    rollback = serializers.UUIDField()
    results = RollbackOutcomeSerializer(many=True, allow_empty=False)


class RunbookRecordSerializer(serializers.Serializer):
    wave = serializers.UUIDField()
    check = serializers.UUIDField()
    passed = serializers.BooleanField()
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )


class MaintenanceWindowSerializer(BriefMixin, ValidatedModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    site = serializers.SlugRelatedField(
        slug_field="uuid", queryset=Site.objects.all(), required=False, allow_null=True
    )
    asset_class = BoundedSlugRelatedField(
        slug_field="key",
        queryset=AssetClass.objects.all(),
        required=False,
        allow_null=True,
        max_length=50,
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
            "updated_at",
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
        fields = [
            "id",
            "name",
            "description",
            "order",
            "halts_on_failure",
            "is_active",
            "updated_at",
        ]
        brief_fields = ["id", "name"]


class AssetOutcomeSerializer(serializers.Serializer):
    asset = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["deployed", "failed"])
    message = serializers.CharField(required=False, allow_blank=True, default="")


class WaveResultsSerializer(serializers.Serializer):
    """Outcomes reported by an RMM that executed the wave (the webhook connector's way back)."""

    wave = serializers.UUIDField()
    results = AssetOutcomeSerializer(many=True, allow_empty=False)
