from rest_framework import serializers

from exposure.choices import Step
from exposure.models import ExposureAlert, ExposureFeed, ExposureStep


class ExposureStepSerializer(serializers.ModelSerializer):
    within_sla = serializers.BooleanField(read_only=True, allow_null=True)
    minutes = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = ExposureStep
        fields = [
            "step",
            "state",
            "started_at",
            "done_at",
            "done_by",
            "reference",
            "detail",
            "overdue_at",
            "minutes",
            "within_sla",
        ]


class ExposureAlertSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    steps = ExposureStepSerializer(many=True, read_only=True)
    sla_met = serializers.BooleanField(read_only=True, allow_null=True)
    response_minutes = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = ExposureAlert
        fields = [
            "id",
            "email",
            "source",
            "exposed",
            "breach",
            "exposed_at",
            "via",
            "received_at",
            "last_received_at",
            "due_at",
            "duplicates",
            "reset_via",
            "ticket_uuid",
            "sla_met",
            "response_minutes",
            "steps",
            "updated_at",
        ]


class ExposureAlertInSerializer(serializers.Serializer):
    """One alert as a feed or an integration reports it (validated by ``exposure.services``)."""

    email = serializers.EmailField(max_length=254)
    source = serializers.CharField(max_length=100)
    exposed = serializers.CharField(max_length=200, help_text="What was exposed, e.g. password")
    breach = serializers.CharField(max_length=200, help_text="The breach or paste it was seen in")
    exposed_at = serializers.DateTimeField(required=False, allow_null=True)


class StepDoneSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=[Step.RESET, Step.NOTIFY])
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ExposureFeedSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    secret = serializers.CharField(write_only=True, min_length=24, max_length=200)
    inbound_url = serializers.SerializerMethodField()

    class Meta:
        model = ExposureFeed
        fields = [
            "id",
            "name",
            "secret",
            "is_active",
            "created_at",
            "created_by",
            "updated_at",
            "inbound_url",
        ]
        read_only_fields = ["is_active", "created_at", "created_by", "updated_at"]

    def get_inbound_url(self, obj: ExposureFeed) -> str:
        return f"exposure-feeds/{obj.uuid}/inbound/"
