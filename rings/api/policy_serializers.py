"""Serializers of the patch policy API and the MSP-wide template API. Public ids are UUIDs;
asset classes and rings are named by their keys."""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.choices import SeverityTier
from common.apifields import BoundedSlugRelatedField
from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH
from inventory.models import AssetClass
from policytemplates.choices import WEEKDAYS, PolicyApprover, PolicySchedule, ProductClass
from policytemplates.models import PolicyTemplate
from policytemplates.rules import MAX_OFFSET_DAYS
from rings.models import PatchPolicy, PolicyRun, Ring
from rings.services import next_policy_occurrence
from tenants.api.serializers import BriefMixin


class _Rules(serializers.Serializer):
    """The rule fields of a policy and a template (the model's checks run in the service)."""

    tiers = serializers.ListField(
        child=serializers.ChoiceField(choices=SeverityTier.choices),
        max_length=len(SeverityTier.values),
        required=False,
        help_text="Severity tiers: critical, high, medium, low, unknown.",
    )
    include_kev = serializers.BooleanField(required=False)
    product_class = serializers.ChoiceField(choices=ProductClass.choices, required=False)
    os_families = serializers.ListField(
        child=serializers.ChoiceField(choices=OsFamily.choices),
        max_length=len(OsFamily.values),
        required=False,
        help_text="Empty: every family.",
    )
    schedule = serializers.ChoiceField(choices=PolicySchedule.choices, required=False)
    offset_days = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET_DAYS, required=False)
    weekday = serializers.ChoiceField(
        choices=WEEKDAYS, allow_null=True, required=False, help_text="0 = Monday … 6 = Sunday."
    )
    run_at = serializers.TimeField(
        required=False, help_text="Local time of day in the client's time zone (HH:MM)."
    )
    approver_role = serializers.ChoiceField(choices=PolicyApprover.choices, required=False)


class PatchPolicySerializer(BriefMixin, _Rules, serializers.ModelSerializer):
    """A client's automatic patch policy. ``next_occurrence`` is its next scheduled run (UTC;
    the schedule itself is in the client's time zone)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    name = serializers.CharField(max_length=120)
    asset_classes = BoundedSlugRelatedField(
        slug_field="key",
        queryset=AssetClass.objects.all(),
        many=True,
        required=False,
        max_length=50,
        help_text="Asset class keys; empty: every class.",
    )
    rings = BoundedSlugRelatedField(
        slug_field="key",
        queryset=Ring.objects.all(),
        many=True,
        required=False,
        max_length=50,
        help_text="Ring keys; empty: every ring.",
    )
    template = serializers.UUIDField(read_only=True, allow_null=True)
    template_name = serializers.CharField(read_only=True)
    next_occurrence = serializers.SerializerMethodField()
    last_outcome = serializers.CharField(read_only=True, default=None, allow_null=True)
    last_ran_at = serializers.DateTimeField(read_only=True, default=None, allow_null=True)

    class Meta:
        model = PatchPolicy
        fields = [
            "id",
            "name",
            "is_active",
            "tiers",
            "include_kev",
            "product_class",
            "os_families",
            "asset_classes",
            "rings",
            "schedule",
            "offset_days",
            "weekday",
            "run_at",
            "approver_role",
            "template",
            "template_name",
            "active_since",
            "next_occurrence",
            "last_outcome",
            "last_ran_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["active_since", "created_by", "created_at", "updated_at"]
        brief_fields = ["id", "name", "is_active"]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_occurrence(self, obj: PatchPolicy) -> datetime | None:
        return next_policy_occurrence(obj)


class PolicyRunSerializer(BriefMixin, serializers.ModelSerializer):
    """One occurrence of a policy: ``outcome`` is created (with its ``rollout``), nothing
    (no open finding matched) or failed (with the error in ``message``)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    rollout = serializers.UUIDField(source="rollout.uuid", read_only=True, allow_null=True)

    # Written once, never changed: its change time is when it was written.
    updated_at = serializers.DateTimeField(source="ran_at", read_only=True)

    class Meta:
        model = PolicyRun
        fields = [
            "id",
            "occurrence",
            "ran_at",
            "outcome",
            "rollout",
            "findings",
            "message",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "occurrence", "outcome"]


class PolicyTemplateSerializer(BriefMixin, _Rules, serializers.ModelSerializer):
    """An MSP-wide policy template; asset classes and rings by key, resolved in each client
    when the template is applied."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True
    )
    asset_classes = serializers.ListField(
        child=serializers.SlugField(max_length=50), max_length=100, required=False
    )
    rings = serializers.ListField(
        child=serializers.SlugField(max_length=50), max_length=100, required=False
    )

    class Meta:
        model = PolicyTemplate
        fields = [
            "id",
            "name",
            "description",
            "tiers",
            "include_kev",
            "product_class",
            "os_families",
            "asset_classes",
            "rings",
            "schedule",
            "offset_days",
            "weekday",
            "run_at",
            "approver_role",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_by", "created_at", "updated_at"]
        brief_fields = ["id", "name"]


class ApplyTemplateSerializer(serializers.Serializer):
    clients = serializers.ListField(
        child=serializers.SlugField(max_length=63),
        min_length=1,
        max_length=1000,
        help_text="Slugs of the clients whose policy the template creates or updates.",
    )


class TemplateApplicationSerializer(serializers.Serializer):
    client = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "updated", "failed"])
    policy = serializers.UUIDField(allow_null=True)
    message = serializers.CharField()


class ApplyResultSerializer(serializers.Serializer):
    results = TemplateApplicationSerializer(many=True)
