"""Serializers of the integrations API: the agent job protocol and the PSA outbox."""

from __future__ import annotations

from rest_framework import serializers

from common.limits import LOG_MAX_LENGTH
from integrations.models import AgentJob, PsaTicket
from tenants.api.serializers import BriefMixin


class AgentJobSerializer(serializers.ModelSerializer):
    """What an agent receives: ``{"id", "action", "packages", "reboot_policy", "not_before",
    "not_after"}``."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    packages = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = AgentJob
        fields = ["id", "action", "packages", "reboot_policy", "not_before", "not_after"]
        read_only_fields = fields


class AgentJobQuerySerializer(serializers.Serializer):
    agent_id = serializers.CharField(max_length=255)


class PackageResultSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    version = serializers.CharField(
        max_length=200, required=False, allow_blank=True, allow_null=True, default=""
    )
    status = serializers.ChoiceField(
        choices=["installed", "rolled_back", "failed", "skipped"],
        help_text="installed (install job), rolled_back (rollback job), failed or skipped.",
    )
    message = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", trim_whitespace=False
    )


class AgentJobResultSerializer(serializers.Serializer):
    agent_id = serializers.CharField(max_length=255)
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    dry_run = serializers.BooleanField(default=False)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    packages = PackageResultSerializer(many=True, required=False, default=list)
    log = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        max_length=LOG_MAX_LENGTH,
    )

    def validate(self, attrs):
        started, finished = attrs.get("started_at"), attrs.get("finished_at")
        if started and finished and finished < started:
            raise serializers.ValidationError({"finished_at": "Finished before it started."})
        return attrs


class AgentJobStatusSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    dry_runs = serializers.SerializerMethodField()

    class Meta:
        model = AgentJob
        fields = ["id", "action", "status", "finished_at", "dry_runs"]
        read_only_fields = fields

    def get_dry_runs(self, obj: AgentJob) -> int:
        return len(obj.dry_run_results)


class PsaTicketSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = PsaTicket
        fields = [
            "id",
            "category",
            "summary",
            "description",
            "priority",
            "related",
            "created_at",
            "is_after_hours",
            "status",
            "attempts",
            "external_id",
        ]
        read_only_fields = fields
        brief_fields = ["id", "category", "summary", "status"]
