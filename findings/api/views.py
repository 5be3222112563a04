from __future__ import annotations

import io
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, renderers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import UUID_PATTERN
from common.csvexport import csv_writer
from findings import policy as sla_policy
from findings import selectors
from findings.filters import FindingFilterSet
from findings.models import Finding
from tenants.permissions import Capability, current_client

from .serializers import (
    FindingChainSerializer,
    FindingSerializer,
    PrioritizedFindingSerializer,
    SlaPolicySerializer,
    SlaPolicyUpdateSerializer,
)

REDATING_RULE = (
    "When a window changes, findings of that asset class and tier that are outstanding and not "
    "yet overdue get due_at = detected_at + new window; overdue findings keep their due_at."
)


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Findings of this client. Read-only: only a later inventory verifies (closes) a finding."""

    serializer_class = FindingSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    filterset_class = FindingFilterSet
    ordering_fields = ["due_at", "detected_at", "risk_score", "tier", "verified_at", "updated_at"]
    # As the pages' ``q`` (which also matches a CVE exactly; the API has ``?cve=`` for that).
    search_fields = ["asset__hostname", "patch_identifier", "package_name"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no database
            return Finding.objects.none()
        # Uncovered work first; findings an active exception covers rank after it.
        return selectors.with_exception_cover(
            selectors.visible_findings(self.request.user), timezone.now()
        ).order_by("is_excepted", "due_at", "pk")

    def get_serializer_context(self) -> dict[str, Any]:
        # The detail recomputes the finding's match from the catalogue; lists stay brief.
        return {**super().get_serializer_context(), "explain_match": self.action == "retrieve"}

    @extend_schema(responses=FindingChainSerializer, filters=False)
    @action(detail=True, methods=["get"], url_path="chain", filterset_class=None)
    def chain(self, request, *args, **kwargs):
        """The finding's evidence chain: its detection, each deployment attempt with its
        verification, and every event naming it, each with its sequence number, time, actor
        and hash in the client's hash-chained evidence log."""
        finding = self.get_object()
        chain = selectors.finding_chain(finding)
        data = {
            "finding": finding,
            "complete": chain.complete,
            "detection": chain.detection,
            "attempts": chain.attempts,
            "verification": chain.verification,
            "events": chain.events,
        }
        return Response(FindingChainSerializer(data, context={"request": request}).data)


class CsvRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        if isinstance(data, str | bytes):
            return data
        return "" if data is None else str(data)


PRIORITIZATION_COLUMNS = [
    "position",
    "hostname",
    "asset_class",
    "os_family",
    "is_ephi",
    "patch",
    "package",
    "tier",
    "is_kev",
    "risk_score",
    "cves",
    "state",
    "excepted_until",
    "detected_at",
    "due_at",
    "reason",
]


def _local_iso(value: Any) -> str:
    """ISO 8601 in the active (client) time zone, with its offset; empty when missing."""
    return timezone.localtime(value).isoformat() if value is not None else ""


def prioritization_csv(entries: list[selectors.PrioritizedFinding]) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(PRIORITIZATION_COLUMNS)
    for e in entries:
        f = e.finding
        writer.writerow(
            [
                e.position,
                f.asset.hostname,
                f.asset.asset_class.key,
                f.asset.os_family,
                "yes" if f.asset.is_ephi else "no",
                f.patch_identifier,
                f.package_name,
                f.tier,
                "yes" if f.is_kev else "no",
                f.risk_score,
                " ".join(f.cves),
                f.state,
                _local_iso(getattr(f, "excepted_until", None)),
                _local_iso(f.detected_at),
                _local_iso(f.due_at),
                e.reason,
            ]
        )
    return out.getvalue()


class PrioritizationLogView(generics.GenericAPIView):
    """The risk-based prioritization log: open findings in order, with the reason for each.

    ``?format=csv`` downloads the whole log as CSV.
    """

    serializer_class = PrioritizedFindingSerializer
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]
    filter_backends: list = []

    def get_queryset(self):
        return selectors.prioritized_findings(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses=PrioritizedFindingSerializer(many=True),
    )
    def get(self, request, *args, **kwargs):
        now = timezone.now()
        if getattr(request.accepted_renderer, "format", None) == "csv":
            entries = selectors.explain_positions(list(self.get_queryset()), at=now)
            response = Response(prioritization_csv(entries), content_type="text/csv")
            slug = current_client(request).slug
            response["Content-Disposition"] = (
                f'attachment; filename="prioritization-log-{slug}-{now:%Y%m%d}.csv"'
            )
            return response
        page = self.paginate_queryset(self.get_queryset())
        offset = int(getattr(self.paginator, "offset", 0) or 0)
        entries = selectors.explain_positions(list(page), at=now, start=offset + 1)
        return self.get_paginated_response(self.get_serializer(entries, many=True).data)


def policy_payload() -> dict[str, Any]:
    policy = sla_policy.get_policy()
    return {
        "name": policy.name,
        "updated_at": policy.updated_at,
        "redating_rule": REDATING_RULE,
        "rules": list(selectors.sla_rules()),
        "changes": list(selectors.sla_changes()[:20]),
    }


class SlaPolicyView(APIView):
    """The client's SLA policy: windows and reboot policies by asset class × tier.

    Everyone who sees the client may read it; only MSP admins (ADMINISTER) may change it.
    """

    capabilities = {"GET": Capability.VIEW, "PUT": Capability.ADMINISTER}

    @extend_schema(responses=SlaPolicySerializer)
    def get(self, request):
        return Response(SlaPolicySerializer(policy_payload()).data)

    @extend_schema(request=SlaPolicyUpdateSerializer, responses=SlaPolicySerializer)
    def put(self, request):
        body = SlaPolicyUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sla_policy.update_sla_policy(
            rules=[dict(r) for r in request.data.get("rules", [])],
            actor=request.user,
            at=timezone.now(),
        )
        return Response(SlaPolicySerializer(policy_payload()).data)
