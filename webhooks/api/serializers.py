"""Serializers of the webhook API: endpoints (the secret only in the answers of create and
rotate), deliveries, and the documented envelope of each event."""

from __future__ import annotations

from rest_framework import serializers

from integrations.models import OutboxMessage

from ..choices import TEST_EVENT, WebhookEvent
from ..models import WebhookEndpoint

EVENT_TYPES = [*WebhookEvent.values, TEST_EVENT]


class EndpointSerializer(serializers.ModelSerializer):
    """A webhook endpoint. ``client`` is the slug of the client it hears (null: every client,
    an MSP endpoint)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    client = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.CharField(max_length=1000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True)
    previous_secret_signs_until = serializers.DateTimeField(
        source="previous_secret_expires_at", read_only=True
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "client",
            "url",
            "description",
            "events",
            "is_active",
            "created_at",
            "created_by",
            "updated_at",
            "rotated_at",
            "previous_secret_signs_until",
        ]
        read_only_fields = ["created_at", "created_by", "updated_at", "rotated_at"]


class EndpointWithSecretSerializer(EndpointSerializer):
    """The endpoint with its signing secret in clear: only in the answer that creates it or
    rotates it (never again)."""

    secret = serializers.CharField(read_only=True)

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class TestRequestSerializer(serializers.Serializer):
    """MSP endpoints only: the client the test is sent as (its envelope names one client)."""

    client = serializers.SlugField(max_length=48, required=False)


class EnvelopeClientSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class EnvelopeSerializer(serializers.Serializer):
    """The JSON body of every delivery (stable: keys may be added, none removed or renamed).
    ``data`` per type: always the subject's id under ``finding``, ``rollout``, ``exception``,
    ``report`` or ``endpoint``, and — finding.overdue: patch, hostname, tier, kev, state,
    detected_at, due_at; finding.verified: patch, hostname, from_state, verified_at, within_sla;
    rollout.halted: reason, ring, cancelled_jobs; rollout.completed: deployed, verified, failed,
    rolled_back, waves, skipped_waves, expedited; exception.requested: version, kind,
    ticket_reference, expires_at; exception.signed: the same plus starts_at and
    findings_excepted (a count); exception.expiring: the same as requested plus days_before (14,
    7 or 1); report.ready: kind, period, version, sha256, size; webhook.test: message."""

    id = serializers.CharField(help_text="The event's id (the same for every endpoint).")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    created_at = serializers.DateTimeField()
    client = EnvelopeClientSerializer()
    url = serializers.URLField(help_text="The event's page in the portal.")
    data = serializers.DictField()


class DeliverySerializer(serializers.ModelSerializer):
    """One delivery of an event to the endpoint: its id (the ``X-PatchOps-Delivery`` header,
    the same on every attempt), state, attempts, the last answer and error, and the body."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    client = serializers.SerializerMethodField()
    payload = EnvelopeSerializer(read_only=True)

    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "client",
            "event",
            "target",
            "state",
            "attempts",
            "max_attempts",
            "response_status",
            "last_error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "retried_at",
            "payload",
            "updated_at",
        ]
        read_only_fields = fields

    def get_client(self, obj: OutboxMessage) -> str:
        return getattr(obj, "client_slug", "") or obj.payload.get("client", {}).get("slug", "")
