from rest_framework import serializers

from evidence.models import EvidenceEvent
from tenants.api.serializers import BriefMixin


class EvidenceEventSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    # Written once, never changed: its change time is when it was written.
    updated_at = serializers.DateTimeField(source="occurred_at", read_only=True)

    class Meta:
        model = EvidenceEvent
        fields = [
            "id",
            "sequence",
            "occurred_at",
            "kind",
            "actor",
            "subject_type",
            "subject_id",
            "payload",
            "prev_hash",
            "hash",
            "updated_at",
        ]
        brief_fields = ["id", "sequence", "kind", "occurred_at"]
        read_only_fields = fields


class ChainBreakSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    id = serializers.UUIDField()
    problem = serializers.CharField()


class ChainStatusSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    head_sequence = serializers.IntegerField(allow_null=True)
    head_hash = serializers.CharField()
    broken = ChainBreakSerializer(allow_null=True)
    summary = serializers.CharField()
