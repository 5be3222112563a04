from rest_framework import serializers

from evidence.models import EvidenceEvent, ReportKind, StoredReport
from tenants.api.serializers import BriefMixin


class EvidenceEventSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

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


class StoredReportSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    period = serializers.CharField(source="period_label", read_only=True)
    filename = serializers.CharField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = StoredReport
        fields = [
            "id",
            "kind",
            "period",
            "version",
            "filename",
            "content_type",
            "sha256",
            "size",
            "generated_at",
            "generated_by",
            "download_url",
        ]
        brief_fields = ["id", "kind", "period", "version", "sha256"]
        read_only_fields = fields

    def get_download_url(self, obj: StoredReport) -> str:
        request = self.context.get("request")
        path = f"reports/{obj.uuid}/download/"
        if request is None:
            return path
        return f"{_api_root(request)}{path}"


def _api_root(request) -> str:
    path = request.path
    marker = "/api/v1/"
    return path[: path.index(marker) + len(marker)] if marker in path else "/"


class GenerateReportSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    period = serializers.RegexField(r"^\d{4}-\d{2}$", max_length=7, help_text="YYYY-MM")


class QueuedReportSerializer(serializers.Serializer):
    status = serializers.CharField()
    kind = serializers.CharField()
    period = serializers.CharField()
