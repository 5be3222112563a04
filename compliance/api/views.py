from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance import engine
from tenants.permissions import current_client

from .serializers import ComplianceSerializer


class ComplianceView(APIView):
    """This client's compliance figures (DESIGN Definitions), with per-tier, per-OS-family and
    per-asset-class breakdowns."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "period_days",
                OpenApiTypes.INT,
                description="SLA attainment / time-to-remediate period (1–366, default 30)",
            )
        ],
        responses=ComplianceSerializer,
    )
    def get(self, request):
        raw = request.query_params.get("period_days", "30")
        try:
            period = int(raw)
        except ValueError:
            period = 0
        if not 1 <= period <= 366:
            raise ValidationError({"period_days": "A whole number of days from 1 to 366."})
        figures = engine.compute(
            client=current_client(request), at=timezone.now(), period_days=period
        )
        return Response(figures.as_dict())
