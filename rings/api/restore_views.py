"""API of the restore tests: the critical systems' restore tests (schedule, then record the
outcome once) and the client's rule. The same services as the Restore tests page, so the same
checks and the same evidence events."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import UUID_PATTERN
from inventory.models import Asset
from rings import selectors, services
from rings.api.restore_serializers import (
    RestoreTestRecordSerializer,
    RestoreTestRuleSerializer,
    RestoreTestScheduleSerializer,
    RestoreTestSerializer,
)
from rings.filters import RestoreTestFilterSet
from tenants.permissions import Capability


class RestoreTestViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Restore tests of critical systems, newest scheduled first. Scheduling and recording
    need the operate capability."""

    serializer_class = RestoreTestSerializer
    filterset_class = RestoreTestFilterSet
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["scheduled_for", "performed_at", "updated_at"]
    search_fields = ["asset__hostname", "what", "performed_by"]
    capabilities = {
        "GET": Capability.VIEW,
        "POST": Capability.OPERATE,
        "record": Capability.OPERATE,
    }

    def get_queryset(self):
        return selectors.visible_restore_tests(self.request.user)

    @extend_schema(
        summary="Schedule a restore test",
        request=RestoreTestScheduleSerializer,
        responses={201: RestoreTestSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Schedule a restore test of a critical system (``restore_test.scheduled``)."""
        body = RestoreTestScheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        asset = Asset.objects.select_related("asset_class").filter(uuid=data["asset"]).first()
        if asset is None:
            raise ValidationError({"asset": "No such system."})
        test = services.schedule_restore_test(
            asset=asset, scheduled_for=data["scheduled_for"], what=data["what"], actor=request.user
        )
        return Response(
            self.get_serializer(selectors.visible_restore_tests().get(pk=test.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=RestoreTestRecordSerializer, responses=RestoreTestSerializer)
    @action(detail=True, methods=["post"])
    def record(self, request, id=None):
        """Record how a scheduled restore test went (passed or failed, when, by whom, the
        evidence link), once (``restore_test.recorded``)."""
        test = self.get_object()
        body = RestoreTestRecordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.record_restore_test(
            test=test,
            outcome=data["outcome"],
            performed_at=data["performed_at"],
            performed_by=data["performed_by"],
            evidence_url=data["evidence_url"],
            note=data["note"],
            actor=request.user,
        )
        return Response(self.get_serializer(selectors.visible_restore_tests().get(pk=test.pk)).data)


def _rule_payload() -> dict:
    rule = services.restore_rule()
    return {
        "max_age_days": rule.max_age_days,
        "gate_waves": rule.gate_waves,
        "updated_at": rule.updated_at,
        "updated_by": rule.updated_by,
    }


class RestoreTestRuleView(APIView):
    """The client's restore test rule: how many days a passing restore test of a critical
    system stays good, and whether waves wait for one.

    Everyone who sees the client may read it; only MSP admins (ADMINISTER) may change it
    (``restore_test.rule_changed``)."""

    capabilities = {"GET": Capability.VIEW, "PUT": Capability.ADMINISTER}

    @extend_schema(responses=RestoreTestRuleSerializer)
    def get(self, request):
        return Response(RestoreTestRuleSerializer(_rule_payload()).data)

    @extend_schema(request=RestoreTestRuleSerializer, responses=RestoreTestRuleSerializer)
    def put(self, request):
        body = RestoreTestRuleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.save_restore_rule(
            max_age_days=body.validated_data["max_age_days"],
            gate_waves=body.validated_data["gate_waves"],
            actor=request.user,
        )
        return Response(RestoreTestRuleSerializer(_rule_payload()).data)
