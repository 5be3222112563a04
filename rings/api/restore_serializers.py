"""Serializers of the restore tests API: a critical system's restore test (scheduled, then
recorded once) and the client's rule. Public ids are UUIDs."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from common.limits import TEXT_MAX_LENGTH
from rings.models import RestoreOutcome, RestoreTest
from rings.services.restore_tests import MAX_AGE_LIMIT
from tenants.api.serializers import BriefMixin


class RestoreTestSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    asset = serializers.UUIDField(source="asset.uuid", read_only=True)
    hostname = serializers.CharField(source="asset.hostname", read_only=True)
    is_overdue = serializers.SerializerMethodField(
        help_text="Still scheduled after its date passed (the client's local date)."
    )

    class Meta:
        model = RestoreTest
        fields = [
            "id",
            "asset",
            "hostname",
            "scheduled_for",
            "what",
            "scheduled_by",
            "created_at",
            "outcome",
            "is_overdue",
            "performed_at",
            "performed_by",
            "evidence_url",
            "note",
            "recorded_by",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "asset", "hostname", "scheduled_for", "outcome"]

    def get_is_overdue(self, test: RestoreTest) -> bool:
        return (
            test.outcome == RestoreOutcome.SCHEDULED and test.scheduled_for < timezone.localdate()
        )


class RestoreTestScheduleSerializer(serializers.Serializer):
    asset = serializers.UUIDField(help_text="The critical system (asset id).")
    scheduled_for = serializers.DateField()
    what = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, help_text="What is restored, from which backup, to where."
    )


class RestoreTestRecordSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[RestoreOutcome.PASSED.value, RestoreOutcome.FAILED.value]
    )
    performed_at = serializers.DateTimeField(help_text="When the restore was done.")
    performed_by = serializers.CharField(max_length=200)
    evidence_url = serializers.URLField(max_length=500, help_text="Link to the evidence.")
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )


class RestoreTestRuleSerializer(serializers.Serializer):
    max_age_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_AGE_LIMIT,
        help_text="How many days a passing restore test of a critical system stays good.",
    )
    gate_waves = serializers.BooleanField(
        help_text="A wave waits while a critical member lacks a passing restore test."
    )
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_by = serializers.CharField(read_only=True)
