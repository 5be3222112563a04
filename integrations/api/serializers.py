"""Serializers of the integrations API: the agent job protocol, PSA tickets and the outbox."""

from __future__ import annotations

from rest_framework import serializers

from common.limits import LOG_MAX_LENGTH
from integrations.models import AgentJob, OutboxMessage, PsaConnection, PsaTicket
from integrations.outbox import retry_refusal
from integrations.psa import SECRET_FIELDS, mask
from inventory.api.serializers import AssetSerializer
from tenants.api.serializers import BriefMixin


class AgentJobSerializer(serializers.ModelSerializer):
    """What an agent receives: ``{"id", "action", "packages", "reboot_policy", "reboot",
    "scan", "not_before", "not_after"}``; ``reboot`` says how the policy restarts the machine
    (``integrations.reboot``), ``scan`` what a ``network_scan`` job scans (``subnet``,
    ``top_ports`` or ``ports``, ``timing``; empty for other jobs)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    packages = serializers.ListField(child=serializers.DictField(), read_only=True)
    reboot = serializers.DictField(read_only=True)
    scan = serializers.DictField(read_only=True)

    class Meta:
        model = AgentJob
        fields = [
            "id",
            "action",
            "packages",
            "reboot_policy",
            "reboot",
            "scan",
            "not_before",
            "not_after",
        ]
        read_only_fields = fields


class AgentJobQuerySerializer(serializers.Serializer):
    agent_id = serializers.CharField(max_length=255)


class AgentConfigQuerySerializer(serializers.Serializer):
    agent_id = serializers.RegexField(r"^[A-Za-z0-9._:-]{1,128}$", max_length=128, required=False)


class AgentDiscoveryConfigSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    cadence = serializers.ChoiceField(choices=["daily", "weekly"])
    local_hour = serializers.IntegerField()
    weekday = serializers.IntegerField()
    time_zone = serializers.CharField()
    slots = serializers.ListField(child=serializers.DateTimeField())
    next_slot = serializers.DateTimeField()
    jitter_seconds = serializers.IntegerField()


class AgentConfigSerializer(serializers.Serializer):
    client = serializers.CharField()
    server_time = serializers.DateTimeField()
    agent_version = serializers.CharField()
    discovery = AgentDiscoveryConfigSerializer()


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
    reboot_required = serializers.BooleanField(
        default=False, help_text="The machine has a restart pending after the job."
    )
    log = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        max_length=LOG_MAX_LENGTH,
    )
    nmap_xml = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        # The request body's own bound; a report over the scan limit (768 KiB) is recorded as a
        # failed scan (integrations.scans.NMAP_XML_MAX_BYTES), not refused.
        max_length=1024 * 1024,
        help_text="A network_scan job's Nmap XML (nmap -oX -), as the scan printed it.",
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
            "external_status",
            "meaning",
            "source",
            "subject_type",
            "subject_id",
            "closed_at",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "category", "summary", "status"]


class OutboxMessageSerializer(BriefMixin, serializers.ModelSerializer):
    """One outbound call and its delivery state."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    target_name = serializers.SerializerMethodField()
    retryable = serializers.SerializerMethodField()

    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "kind",
            "event",
            "target",
            "target_name",
            "idempotency_key",
            "subject_type",
            "subject_id",
            "state",
            "attempts",
            "max_attempts",
            "last_error",
            "response_status",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "retried_at",
            "retried_by",
            "retryable",
            "payload",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "event", "state", "attempts", "next_attempt_at"]

    def get_target_name(self, obj: OutboxMessage) -> str:
        if obj.rmm_webhook:
            return obj.rmm_webhook.name
        return obj.psa_connection.name if obj.psa_connection else ""

    def get_retryable(self, obj: OutboxMessage) -> bool:
        """A dead call that may be sent again (``POST …/retry/``)."""
        return obj.is_dead and retry_refusal(obj) is None


class PsaConnectionSerializer(serializers.ModelSerializer):
    """A client's PSA connection. ``api_secret`` and ``webhook_secret`` are write-only (left out
    on a change: kept); ``api_secret_hint``/``webhook_secret_hint`` show their last characters."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    api_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500
    )
    webhook_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500
    )
    api_secret_hint = serializers.SerializerMethodField()
    webhook_secret_hint = serializers.SerializerMethodField()
    priority_map = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False
    )
    status_map = serializers.DictField(
        child=serializers.ChoiceField(choices=["open", "in_progress", "closed"]), required=False
    )

    class Meta:
        model = PsaConnection
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "login_company",
            "api_user",
            "api_secret",
            "api_secret_hint",
            "app_id",
            "company_ref",
            "board_ref",
            "new_status_ref",
            "closed_status_ref",
            "priority_map",
            "status_map",
            "tickets_for_overdue",
            "overdue_min_severity",
            "tickets_for_exceptions",
            "webhook_username",
            "webhook_secret",
            "webhook_secret_hint",
            "poll",
            "last_polled_at",
            "max_attempts",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_polled_at", "created_at", "updated_at"]

    def get_api_secret_hint(self, obj: PsaConnection) -> str:
        return mask(obj.api_secret)

    def get_webhook_secret_hint(self, obj: PsaConnection) -> str:
        return mask(obj.webhook_secret)


assert set(SECRET_FIELDS) <= set(PsaConnectionSerializer.Meta.fields)


class RebootApprovalSerializer(serializers.Serializer):
    """The approved restart: the ``reboot`` job queued for the asset's agent, and the asset."""

    job = serializers.UUIDField(help_text="The reboot job the agent's next poll carries.")
    asset = AssetSerializer()
