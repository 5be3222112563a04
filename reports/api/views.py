"""Reports API: stored reports, their generation (queued) and downloads."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from common.periods import parse_period
from reports import delivery, requests
from reports.api.serializers import (
    GenerateReportSerializer,
    ReportRecipientSerializer,
    ReportRequestSerializer,
    StoredReportSerializer,
)
from reports.filters import StoredReportFilterSet
from reports.models import ReportRecipient, ReportRequest, StoredReport
from reports.services import (
    ReportNotAvailable,
    file_sha256,
    record_report_altered,
)
from reports.tasks import queue_request
from tenants.permissions import Capability, current_client, may_generate, role_in


def _content_disposition_name(report: StoredReport) -> str:
    return report.filename or f"report-{report.uuid}"


_queue = queue_request


class ReportRequestViewSet(viewsets.ReadOnlyModelViewSet):
    """Requested generations with their state; ``retry/`` queues a failed one again."""

    queryset = ReportRequest.objects.select_related("report").all()
    serializer_class = ReportRequestSerializer
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filterset_fields = ["state", "kind"]
    ordering_fields = ["requested_at"]
    capabilities = {
        "GET": Capability.REPORTS,
        "HEAD": Capability.REPORTS,
        "retry": Capability.REPORTS,
    }

    @extend_schema(request=None, responses={202: ReportRequestSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, *args, **kwargs):
        """Queue a failed request again (409 when it is not failed)."""
        if not may_generate(role_in(request.user, current_client(request))):
            raise exceptions.PermissionDenied("Only MSP staff may generate reports.")
        try:
            made = requests.retry_request(request=self.get_object(), queue=_queue)
        except requests.RequestNotRetryable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ReportRequestSerializer(made).data, status=status.HTTP_202_ACCEPTED)


class StoredReportViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored, immutable reports; POST queues a generation (MSP staff and write tokens)."""

    queryset = StoredReport.objects.all()
    serializer_class = StoredReportSerializer
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filterset_class = StoredReportFilterSet
    ordering_fields = ["period", "generated_at", "kind", "version"]
    updated_field = "generated_at"  # a stored report never changes once written
    http_method_names = ["get", "post", "head", "options"]
    capabilities = {
        "GET": Capability.REPORTS,
        "HEAD": Capability.REPORTS,
        "POST": Capability.REPORTS,
        "download": Capability.REPORTS,
    }

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            return super().get_queryset().prefetch_related("deliveries")
        return super().get_queryset()

    @extend_schema(
        request=GenerateReportSerializer,
        responses={202: ReportRequestSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Queue the generation of one report; it appears in the list when rendered."""
        if not may_generate(role_in(request.user, current_client(request))):
            raise exceptions.PermissionDenied("Only MSP staff may generate reports.")
        serializer = GenerateReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kind, period = serializer.validated_data["kind"], serializer.validated_data["period"]
        try:
            made = requests.request_report(
                client=current_client(request),
                kind=kind,
                period=parse_period(period),
                actor=request.user,
                queue=_queue,
            )
        except ReportNotAvailable as exc:
            raise exceptions.ValidationError({"kind": [str(exc)]}) from exc
        except ValueError as exc:
            raise exceptions.ValidationError({"period": [str(exc)]}) from exc
        return Response(ReportRequestSerializer(made).data, status=status.HTTP_202_ACCEPTED)

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


class ReportRecipientViewSet(viewsets.ModelViewSet):
    """Who is e-mailed a link to each new report of their kinds (MSP admins and the client's
    account managers); every change is an evidence event."""

    queryset = ReportRecipient.objects.all()
    serializer_class = ReportRecipientSerializer
    search_fields = ["name", "email"]
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    ordering_fields = ["name", "email"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    capabilities = {
        "GET": Capability.RECIPIENTS,
        "HEAD": Capability.RECIPIENTS,
        "POST": Capability.RECIPIENTS,
        "PUT": Capability.RECIPIENTS,
        "PATCH": Capability.RECIPIENTS,
        "DELETE": Capability.RECIPIENTS,
    }

    def _fields(self, request, instance: ReportRecipient | None = None) -> dict[str, Any]:
        """The body's name, email and kinds (a PATCH keeps what it leaves out)."""
        data = request.data
        if not hasattr(data, "get"):
            raise exceptions.ValidationError(
                {"non_field_errors": ["Send an object with name, email and kinds."]}
            )
        names = ("name", "email", "kinds")
        partial = instance is not None and request.method == "PATCH"
        if partial and not any(name in data for name in names):
            raise exceptions.ValidationError(
                {"non_field_errors": ["Give at least one of name, email, kinds."]}
            )
        fields: dict[str, Any] = {}
        for name in names:
            if name in data:
                many = name == "kinds" and hasattr(data, "getlist")
                fields[name] = data.getlist(name) if many else data.get(name)
            else:
                fields[name] = getattr(instance, name) if partial else None
        return fields

    def create(self, request, *args, **kwargs):
        try:
            made = delivery.add_recipient(
                client=current_client(request), actor=request.user, **self._fields(request)
            )
        except delivery.RecipientInvalid as exc:
            raise exceptions.ValidationError(exc.errors) from exc
        return Response(ReportRecipientSerializer(made).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        recipient = self.get_object()
        try:
            done = delivery.change_recipient(
                client=current_client(request),
                recipient=recipient,
                actor=request.user,
                **self._fields(request, recipient),
            )
        except delivery.RecipientInvalid as exc:
            raise exceptions.ValidationError(exc.errors) from exc
        return Response(ReportRecipientSerializer(done).data)

    def destroy(self, request, *args, **kwargs):
        delivery.remove_recipient(recipient=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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


__all__ = [
    "ReportAltered",
    "ReportRecipientViewSet",
    "ReportRequestViewSet",
    "StoredReportViewSet",
    "report_file_response",
]
