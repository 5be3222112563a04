"""Reports API: stored reports, their generation (queued) and downloads."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from common.periods import parse_period
from evidence.services import actor_label
from reports.api.serializers import (
    GenerateReportSerializer,
    QueuedReportSerializer,
    StoredReportSerializer,
)
from reports.filters import StoredReportFilterSet
from reports.models import StoredReport
from reports.services import ReportNotAvailable, check_kind, check_period
from reports.tasks import generate_report_task
from tenants.permissions import Capability, current_client, may_generate, role_in


def _content_disposition_name(report: StoredReport) -> str:
    return report.filename or f"report-{report.uuid}"


class StoredReportViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored, immutable reports; POST queues a generation (MSP staff and write tokens)."""

    queryset = StoredReport.objects.all()
    serializer_class = StoredReportSerializer
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filterset_class = StoredReportFilterSet
    ordering_fields = ["period", "generated_at", "kind", "version"]
    http_method_names = ["get", "post", "head", "options"]
    capabilities = {
        "GET": Capability.REPORTS,
        "HEAD": Capability.REPORTS,
        "POST": Capability.REPORTS,
        "download": Capability.REPORTS,
    }

    @extend_schema(
        request=GenerateReportSerializer,
        responses={202: QueuedReportSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Queue the generation of one report; it appears in the list when rendered."""
        if not may_generate(role_in(request.user, current_client(request))):
            raise exceptions.PermissionDenied("Only MSP staff may generate reports.")
        serializer = GenerateReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kind, period = serializer.validated_data["kind"], serializer.validated_data["period"]
        try:
            check_kind(kind, current_client(request))
            check_period(current_client(request), parse_period(period))
        except ReportNotAvailable as exc:
            raise exceptions.ValidationError({"kind": [str(exc)]}) from exc
        except ValueError as exc:
            raise exceptions.ValidationError({"period": [str(exc)]}) from exc
        generate_report_task.apply_async(
            kwargs={"kind": kind, "period": period, "actor": actor_label(request.user)}
        )
        return Response(
            {"status": "queued", "kind": kind, "period": period}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file; its SHA-256 in X-Content-SHA256."
            )
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def download(self, request, *args, **kwargs):
        """Stream the stored file with its SHA-256 in the ``X-Content-SHA256`` header."""
        report = self.get_object()
        return report_file_response(report)


def report_file_response(report: StoredReport) -> FileResponse:
    try:
        handle = report.file.open("rb")
    except FileNotFoundError as exc:
        raise exceptions.NotFound("The stored file is missing; contact the MSP.") from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=_content_disposition_name(report),
        content_type=report.content_type,
    )
    response["X-Content-SHA256"] = report.sha256
    response["Cache-Control"] = "private, no-store"
    return response


__all__ = ["StoredReportViewSet", "report_file_response"]
