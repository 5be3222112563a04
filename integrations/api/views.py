"""Agent job channel, PSA tickets and the outbox of outbound calls, under
/clients/<slug>/api/v1/."""

from __future__ import annotations

from django.db.models import Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.apifilters import StrictSearchFilter
from common.apiparsers import PayloadTooLarge, max_body_bytes, too_large_detail
from common.apisync import UpdatedSinceFilter
from integrations.api.serializers import (
    AgentConfigQuerySerializer,
    AgentConfigSerializer,
    AgentJobQuerySerializer,
    AgentJobResultSerializer,
    AgentJobSerializer,
    AgentJobStatusSerializer,
    OutboxMessageSerializer,
    PsaConnectionSerializer,
    PsaTicketSerializer,
    RebootApprovalSerializer,
)
from integrations.choices import JobStatus
from integrations.filters import OutboxMessageFilterSet, PsaTicketFilterSet
from integrations.models import AgentJob, PsaConnection, PsaTicket
from integrations.outbox import retry_message
from integrations.psa import InboundRefused, receive_inbound, save_connection
from integrations.reboot import RebootApprovalRefused, approve_reboot
from integrations.resident import agent_archive, agent_config
from integrations.selectors import visible_outbox_messages
from integrations.services import claim_agent_jobs, record_job_result
from inventory.selectors import visible_assets
from tenants.permissions import Capability, current_client


class AgentJobViewSet(viewsets.GenericViewSet):
    """Jobs for discovery agents (agent tokens). Polling hands each queued job out once."""

    serializer_class = AgentJobSerializer
    queryset = AgentJob.objects.none()
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    filter_backends: list = []
    capabilities = {"GET": Capability.PUSH_DISCOVERY, "POST": Capability.PUSH_DISCOVERY}

    @extend_schema(
        parameters=[OpenApiParameter("agent_id", str, required=True)],
        responses=AgentJobSerializer(many=True),
    )
    def list(self, request):
        """The calling agent's queued jobs (marked dispatched), oldest first."""
        query = AgentJobQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        agent_id = query.validated_data["agent_id"]
        queued = (
            AgentJob.objects.filter(agent_id=agent_id, status=JobStatus.QUEUED)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))
            .count()
        )
        limit = self.paginator.get_limit(request) or self.paginator.default_limit
        jobs = claim_agent_jobs(agent_id=agent_id, limit=limit)
        more = queued > len(jobs)
        return Response(
            {
                "count": queued,
                "next": request.build_absolute_uri() if more else None,
                "previous": None,
                "results": AgentJobSerializer(jobs, many=True).data,
            }
        )

    @extend_schema(request=AgentJobResultSerializer, responses={200: AgentJobStatusSerializer})
    @action(detail=True, methods=["post"])
    def result(self, request, id=None):
        """Report the job's outcome. Dry runs are recorded and never mark anything deployed."""
        job = get_object_or_404(AgentJob, uuid=id)
        serializer = AgentJobResultSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = record_job_result(job=job, payload=serializer.validated_data, actor=request.user)
        return Response(AgentJobStatusSerializer(job).data, status=status.HTTP_200_OK)


class AgentConfigView(APIView):
    """What a resident agent reads on each run (agent tokens): the client's discovery schedule
    (enabled, cadence, local hour, weekday, time zone), its latest slots and the jitter window."""

    capabilities = {"GET": Capability.PUSH_DISCOVERY}

    @extend_schema(
        parameters=[OpenApiParameter("agent_id", str, required=False)],
        responses=AgentConfigSerializer,
    )
    def get(self, request):
        AgentConfigQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        return Response(agent_config(client=current_client(request)))


class AgentDownloadView(APIView):
    """The agent as one file (``patchops-agent.pyz``, Python 3.7+), for the installer the
    client's agent install page gives (agent tokens); its SHA-256 in X-Content-SHA256."""

    capabilities = {"GET": Capability.PUSH_DISCOVERY}

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request):
        path, digest = agent_archive()
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename="patchops-agent.pyz",
            content_type="application/octet-stream",
        )
        response["X-Content-SHA256"] = digest
        response["Cache-Control"] = "no-store"
        return response


class PsaTicketViewSet(viewsets.ReadOnlyModelViewSet):
    """The PSA outbox: tickets waiting for (or delivered to) the PSA."""

    serializer_class = PsaTicketSerializer
    filterset_class = PsaTicketFilterSet
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    ordering_fields = ["created_at", "priority"]
    search_fields = ["summary"]

    def get_queryset(self):
        return PsaTicket.objects.order_by("-created_at")


class OutboxMessageViewSet(viewsets.ReadOnlyModelViewSet):
    """Outbound calls (RMM webhooks) with their delivery state: pending, delivering, delivered,
    failed_retrying (with ``next_attempt_at``) or dead. Engineers and MSP admins (write tokens)."""

    serializer_class = OutboxMessageSerializer
    filterset_class = OutboxMessageFilterSet
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    ordering_fields = ["created_at", "next_attempt_at", "attempts"]
    search_fields = ["event", "target", "last_error"]
    capabilities = {"GET": Capability.OPERATE, "retry": Capability.OPERATE}

    def get_queryset(self):
        return visible_outbox_messages()

    @extend_schema(request=None, responses={200: OutboxMessageSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, id=None):
        """Send a dead call again with its full number of attempts (same idempotency key)."""
        message = self.get_object()
        message = retry_message(message=message, actor=request.user)
        return Response(self.get_serializer(message).data, status=status.HTTP_200_OK)


class PsaConnectionViewSet(viewsets.ModelViewSet):
    """The client's PSA connection (ConnectWise Manage, Autotask or HaloPSA): credentials,
    company and board/queue, priority and status mapping, what opens tickets. Engineers and MSP
    admins (write tokens); secrets are write-only."""

    serializer_class = PsaConnectionSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    filter_backends: list = [StrictSearchFilter, UpdatedSinceFilter]
    http_method_names = ["get", "post", "patch", "head", "options"]
    capabilities = {
        "GET": Capability.OPERATE,
        "POST": Capability.OPERATE,
        "PATCH": Capability.OPERATE,
    }

    def get_queryset(self):
        return PsaConnection.objects.order_by("name", "pk")

    def perform_create(self, serializer):
        serializer.instance = save_connection(
            data=dict(serializer.validated_data), actor=self.request.user
        )

    def perform_update(self, serializer):
        serializer.instance = save_connection(
            data=dict(serializer.validated_data),
            actor=self.request.user,
            instance=serializer.instance,
        )

    @extend_schema(
        request={"application/json": dict},
        responses={
            200: {"type": "object", "properties": {"tickets": {"type": "array"}}},
            400: None,
            401: None,
            403: None,
        },
        auth=[],
        description="The PSA's webhook or callback for this connection (no PatchOps token: the "
        "PSA's signature admits). ConnectWise callbacks: `x-content-signature` = base64 "
        "HMAC-SHA256 of the raw body with the callback signing key (`webhook_secret`). Autotask "
        "webhooks: `X-Hook-Signature: sha1=<base64 HMAC-SHA1 with the webhook SecretKey>`. "
        "HaloPSA webhooks: `Authorization: Basic` with `webhook_username`/`webhook_secret`. "
        "Unsigned: 401; bad signature or switched-off connection: 403; not a ticket "
        "notification: 400 (nothing changes). Answers the PatchOps tickets it updated.",
    )
    @action(
        detail=True,
        methods=["post"],
        authentication_classes=[],
        permission_classes=[AllowAny],
        parser_classes=[],
    )
    def inbound(self, request, id=None):
        """A status change the PSA reports (signed by the PSA)."""
        conn = get_object_or_404(PsaConnection, uuid=id)
        limit = max_body_bytes()
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise PayloadTooLarge(too_large_detail(limit))
        try:
            tickets = receive_inbound(conn=conn, headers=dict(request.headers), raw=request.body)
        except InboundRefused as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        return Response({"tickets": [str(t.uuid) for t in tickets]})


class AssetRebootApprovalView(APIView):
    """POST ``assets/<id>/approve-reboot/``: approve the restart an asset awaits under the
    manual-approval reboot policy (operate), as the asset page's button does."""

    capabilities = {"POST": Capability.OPERATE}

    @extend_schema(
        summary="Approve the restart an asset awaits",
        request=None,
        responses={200: RebootApprovalSerializer},
        description=(
            "Queues a reboot job for the asset's agent (its next poll carries it with "
            "reboot.approved true) and records an asset.reboot_approved event. Refused with "
            "400, nothing changed, when the asset awaits no approval or has no agent. "
            "Write-scoped tokens, engineers and MSP admins."
        ),
    )
    def post(self, request, uuid=None):
        asset = get_object_or_404(visible_assets(request.user, current_client(request)), uuid=uuid)
        try:
            job = approve_reboot(asset=asset, actor=request.user)
        except RebootApprovalRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        asset.refresh_from_db()
        body = {"job": job.uuid, "asset": asset}
        return Response(RebootApprovalSerializer(body, context={"request": request}).data)
