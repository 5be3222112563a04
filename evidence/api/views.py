"""Evidence API: the event log (read-only), its verification, stored reports and downloads."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from common.dependencies import enqueue
from evidence.api.serializers import (
    ChainStatusSerializer,
    EvidenceEventSerializer,
    GenerateReportSerializer,
    QueuedReportSerializer,
    StoredReportSerializer,
)
from evidence.filters import EvidenceEventFilterSet, StoredReportFilterSet
from evidence.models import EvidenceEvent, StoredReport
from evidence.permissions import may_generate
from evidence.reports import (
    ReportNotAvailable,
    check_kind,
    check_period,
    file_sha256,
    record_report_altered,
)
from evidence.selectors import verify_chain
from evidence.services import actor_label
from tenants.permissions import Capability, current_client, role_in


class EvidenceEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The client's append-only evidence log, oldest first."""

    queryset = EvidenceEvent.objects.all().order_by("sequence")
    serializer_class = EvidenceEventSerializer
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filterset_class = EvidenceEventFilterSet
    ordering_fields = ["sequence", "occurred_at"]
    search_fields = ["kind", "subject_id", "actor"]
    capabilities = {"GET": Capability.VIEW}

    @extend_schema(responses=ChainStatusSerializer, filters=False)
    @action(
        detail=False,
        methods=["get"],
        url_path="verify",
        filterset_class=None,
        pagination_class=None,
    )
    def verify(self, request, *args, **kwargs):
        """Recompute the whole chain now; ``ok`` false names the first broken event."""
        return Response(verify_chain().as_dict())


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
        from evidence.tasks import generate_report_task

        if not may_generate(role_in(request.user, current_client(request))):
            raise exceptions.PermissionDenied("Only MSP staff may generate reports.")
        serializer = GenerateReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kind, period = serializer.validated_data["kind"], serializer.validated_data["period"]
        from evidence.periods import parse_period

        try:
            check_kind(kind, current_client(request))
            check_period(current_client(request), parse_period(period))
        except ReportNotAvailable as exc:
            raise exceptions.ValidationError({"kind": [str(exc)]}) from exc
        except ValueError as exc:
            raise exceptions.ValidationError({"period": [str(exc)]}) from exc
        enqueue(generate_report_task, kind=kind, period=period, actor=actor_label(request.user))
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
        return report_file_response(report, actor=request.user)


class ReportAltered(exceptions.APIException):
    status_code = 409
    default_detail = (
        "The stored file no longer matches the SHA-256 recorded when it was generated; it was "
        "not served. The MSP has been told (the refusal is in the evidence log)."
    )
    default_code = "report_altered"


def report_file_response(report: StoredReport, *, actor: Any = None) -> FileResponse:
    """The stored file, after checking it still has the SHA-256 recorded at generation (an
    altered file is refused with ``ReportAltered`` and the refusal recorded)."""
    try:
        handle = report.file.open("rb")
    except FileNotFoundError as exc:
        raise exceptions.NotFound("The stored file is missing; contact the MSP.") from exc
    found = file_sha256(handle)
    if found != report.sha256:
        handle.close()
        record_report_altered(report=report, found_sha256=found, actor=actor)
        raise ReportAltered()
    handle.seek(0)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=_content_disposition_name(report),
        content_type=report.content_type,
    )
    response["X-Content-SHA256"] = report.sha256
    response["Cache-Control"] = "private, no-store"
    return response


__all__ = ["EvidenceEventViewSet", "StoredReportViewSet", "report_file_response"]
