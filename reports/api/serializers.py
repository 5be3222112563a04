from rest_framework import serializers

from reports.models import ReportDelivery, ReportKind, ReportRecipient, ReportRequest, StoredReport
from tenants.api.serializers import BriefMixin


class ReportDeliverySerializer(serializers.ModelSerializer):
    """One e-mail of the report to one recipient: pending, retrying, sent or failed."""

    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = ReportDelivery
        fields = [
            "id",
            "name",
            "email",
            "state",
            "attempts",
            "error",
            "sent_at",
            "link_expires_at",
            "opened_at",
        ]
        read_only_fields = fields


class StoredReportSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    period = serializers.CharField(source="period_label", read_only=True)
    filename = serializers.CharField(read_only=True)
    download_url = serializers.SerializerMethodField()
    deliveries = ReportDeliverySerializer(many=True, read_only=True)

    # Written once, never changed: its change time is when it was written.
    updated_at = serializers.DateTimeField(source="generated_at", read_only=True)

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
            "deliveries",
            "updated_at",
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


class ReportRequestSerializer(BriefMixin, serializers.ModelSerializer):
    """A requested generation: queued, running, failed (with the reason) or ready."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    period = serializers.CharField(source="period_label", read_only=True)
    status = serializers.CharField(source="state", read_only=True, help_text="Same as state.")
    report = serializers.UUIDField(source="report.uuid", read_only=True, allow_null=True)

    class Meta:
        model = ReportRequest
        fields = [
            "id",
            "kind",
            "period",
            "state",
            "status",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "attempts",
            "error",
            "report",
            "updated_at",
        ]
        brief_fields = ["id", "kind", "period", "state"]
        read_only_fields = fields


class ReportRecipientSerializer(serializers.ModelSerializer):
    """Someone e-mailed a link to each new report of ``kinds``; written through
    ``reports.delivery`` (its validation and evidence events), never saved here."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    kinds = serializers.ListField(
        child=serializers.CharField(max_length=20),
        help_text='Report kinds, e.g. ["monthly", "qbr"].',
    )

    class Meta:
        model = ReportRecipient
        fields = ["id", "name", "email", "kinds", "created_at", "created_by", "updated_at"]
        read_only_fields = ["id", "created_at", "created_by", "updated_at"]
        extra_kwargs = {"email": {"validators": []}}
