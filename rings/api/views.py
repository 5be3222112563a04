"""API of the rings app: rings and members, rollouts with their waves, windows, runbook checks."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import UUID_PATTERN
from common.apisync import UPDATED_SINCE_PARAMETER, filter_since
from evidence.services import record_event
from inventory.models import Asset
from rings import selectors, services
from rings.api.serializers import (
    AssignmentSummarySerializer,
    HaltSerializer,
    MaintenanceWindowSerializer,
    PinSerializer,
    PlacementRunSerializer,
    ResumeSerializer,
    RingMemberSerializer,
    RingSerializer,
    RollbackResultsSerializer,
    RollbackSerializer,
    RolloutCreateSerializer,
    RolloutPreviewSerializer,
    RolloutSerializer,
    RunbookCheckSerializer,
    RunbookRecordSerializer,
    WaveActionSerializer,
    WaveResultsSerializer,
)
from rings.choices import PlacementTrigger
from rings.filters import (
    MaintenanceWindowFilterSet,
    PlacementRunFilterSet,
    RingMemberFilterSet,
    RolloutFilterSet,
)
from rings.models import RollbackEvent, RollbackTarget, RunbookCheck, Wave
from tenants.permissions import Capability


class RingViewSet(viewsets.ModelViewSet):
    """Rings of the client, in promotion order; editing needs the administer capability."""

    serializer_class = RingSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["order", "name"]
    search_fields = ["name", "key"]
    capabilities = {
        "GET": Capability.VIEW,
        "POST": Capability.ADMINISTER,
        "PUT": Capability.ADMINISTER,
        "PATCH": Capability.ADMINISTER,
        "DELETE": Capability.ADMINISTER,
        "assign": Capability.ADMINISTER,
        "pin": Capability.ADMINISTER,
    }

    def get_queryset(self):
        return selectors.visible_rings(self.request.user)

    def perform_create(self, serializer):
        with transaction.atomic():
            ring = serializer.save()
            record_event(
                kind="ring.created",
                subject_type="ring",
                subject_id=ring.uuid,
                actor=self.request.user,
                # The ring as created; the event's own time says when (no updated_at).
                payload={k: v for k, v in serializer.data.items() if k != "updated_at"},
            )

    def perform_update(self, serializer):
        with transaction.atomic():
            ring = serializer.save()
            record_event(
                kind="ring.updated",
                subject_type="ring",
                subject_id=ring.uuid,
                actor=self.request.user,
                payload={k: str(v) for k, v in serializer.validated_data.items()},
            )

    def perform_destroy(self, instance):
        services.delete_ring(ring=instance, actor=self.request.user)

    @extend_schema(
        responses=PlacementRunSerializer(many=True),
        parameters=[
            OpenApiParameter("trigger", str, enum=PlacementTrigger.values),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            UPDATED_SINCE_PARAMETER,
        ],
        filters=False,
    )
    @action(detail=False, methods=["get"])
    def placements(self, request):
        """Runs of the automatic placement, newest first: new devices placed when first seen,
        scheduled re-balances and assignments a person asked for (how many placed, moved,
        held in place by an unfinished rollout)."""
        filterset = PlacementRunFilterSet(
            request.query_params, queryset=selectors.visible_placements(request.user)
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filter_since(request, filterset.qs, "ran_at"))
        return self.get_paginated_response(PlacementRunSerializer(page, many=True).data)

    @extend_schema(
        responses=RingMemberSerializer(many=True),
        parameters=[
            OpenApiParameter("os_family", str),
            OpenApiParameter("role", str),
            OpenApiParameter("pinned", bool),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            UPDATED_SINCE_PARAMETER,
        ],
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def members(self, request, id=None):
        """Member assets of the ring with their OS family and role."""
        ring = self.get_object()
        queryset = RingMemberFilterSet(request.query_params, queryset=selectors.ring_members(ring))
        if not queryset.is_valid():
            raise ValidationError(queryset.errors)
        page = self.paginate_queryset(filter_since(request, queryset.qs))
        data = RingMemberSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=None,
        responses={200: OpenApiResponse(description="CSV: ring, hostname, asset_id, …")},
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request):
        """Membership of every ring as CSV."""
        response = HttpResponse(selectors.membership_csv(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="ring-membership.csv"'
        return response

    @extend_schema(request=None, responses=AssignmentSummarySerializer)
    @action(detail=False, methods=["post"])
    def assign(self, request):
        """Run the automatic assignment (pinned members stay where they are)."""
        summary = services.assign_rings(actor=request.user)
        return Response(summary)

    @extend_schema(request=PinSerializer, responses=RingMemberSerializer)
    @action(detail=True, methods=["post"])
    def pin(self, request, id=None):
        """Pin an asset into this ring by hand (``pinned: false`` releases the pin)."""
        ring = self.get_object()
        serializer = PinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        asset = serializer.validated_data["asset"]
        if serializer.validated_data["pinned"]:
            services.pin_asset(asset=asset, ring=ring, actor=request.user)
        else:
            services.unpin_asset(asset=asset, actor=request.user)
        asset = selectors.ring_members(ring).filter(pk=asset.pk).first() or asset
        return Response(RingMemberSerializer(asset, context={"request": request}).data)


class RolloutViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Rollouts with their waves; approve, halt, roll back and record runbook checks."""

    serializer_class = RolloutSerializer
    filterset_class = RolloutFilterSet
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["created_at", "name"]
    search_fields = ["name", "patch_identifiers"]
    capabilities = {
        "GET": Capability.VIEW,
        "POST": Capability.OPERATE,
        # Approval is decided per ring (engineer, MSP admin or client owner) by the service.
        "approve": Capability.VIEW,
        # Reading what a rollout would do changes nothing.
        "preview": Capability.VIEW,
    }

    def get_queryset(self):
        return selectors.visible_rollouts(self.request.user)

    def _wave(self, rollout, wave_id) -> Wave:
        return get_object_or_404(
            Wave.objects.select_related("ring", "rollout"), rollout=rollout, uuid=wave_id
        )

    @extend_schema(request=RolloutCreateSerializer, responses={201: RolloutSerializer})
    def create(self, request, *args, **kwargs):
        serializer = RolloutCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rollout = services.create_rollout(
            name=data["name"],
            actor=request.user,
            selection=data["selection"],
            finding_ids=data["findings"],
            patch_identifiers=data["patch_identifiers"],
            os_family=data["os_family"],
            expedite=data["expedite"],
            expedite_reason=data["expedite_reason"],
            soak_hours=data["soak_hours"],
        )
        rollout = self.get_queryset().get(pk=rollout.pk)
        return Response(
            RolloutSerializer(rollout, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=RolloutCreateSerializer, responses=RolloutPreviewSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """What a rollout of this selection would do, before it starts: per ring its members,
        how many devices it would patch (0: the wave would be skipped) and the soak; and
        whether the findings qualify for the emergency lane. Creates nothing."""
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send the rollout's selection as a JSON object."})
        serializer = RolloutCreateSerializer(data={"name": "preview", **request.data})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        findings = services.select_findings(
            selection=data["selection"],
            finding_ids=data["findings"],
            patch_identifiers=data["patch_identifiers"],
            os_family=data["os_family"],
        )
        check = services.expedite_check(findings=findings)
        soak = (data["soak_hours"] or check.suggested_soak_hours) if data["expedite"] else None
        rings = services.preview_rollout(findings=findings, soak_hours=soak)
        body = {
            "findings": len(findings),
            "devices": sum(r.devices for r in rings),
            "rings": [r.as_dict() for r in rings],
            "expedite": {
                "eligible": check.eligible,
                "reason": check.reason,
                "earliest_due": check.earliest_due,
                "combined_soak_hours": check.combined_soak_hours,
                "suggested_soak_hours": check.suggested_soak_hours,
            },
        }
        return Response(RolloutPreviewSerializer(body).data)

    def _fresh(self, rollout, request) -> Response:
        rollout = self.get_queryset().get(pk=rollout.pk)
        return Response(RolloutSerializer(rollout, context={"request": request}).data)

    @extend_schema(request=WaveActionSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, id=None):
        """Approve promotion into a wave's ring; only the ring's approver role may (else 403)."""
        rollout = self.get_object()
        serializer = WaveActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wave = self._wave(rollout, serializer.validated_data["wave"])
        services.approve_wave(wave=wave, user=request.user, note=serializer.validated_data["note"])
        return self._fresh(rollout, request)

    @extend_schema(request=HaltSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def halt(self, request, id=None):
        """Halt the rollout: the current wave stops and queued jobs are cancelled."""
        rollout = self.get_object()
        serializer = HaltSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.halt_rollout(
            rollout=rollout, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return self._fresh(rollout, request)

    @extend_schema(request=ResumeSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, id=None):
        """Resume a halted rollout (a person allowed to operate, with a reason; else 403): the
        halted wave continues from the state it was halted in."""
        rollout = self.get_object()
        serializer = ResumeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.resume_rollout(
            rollout=rollout, user=request.user, reason=serializer.validated_data["reason"]
        )
        return self._fresh(rollout, request)

    @extend_schema(request=RollbackSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, id=None):
        """Roll back: queue rollback jobs to the agents (or the RMM webhook when one is
        configured) for the given assets, or every asset the wave or rollout deployed to. With
        ``outcome``, record a rollback done by hand instead."""
        rollout = self.get_object()
        serializer = RollbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wave = self._wave(rollout, data["wave"]) if data["wave"] else None
        assets = list(Asset.objects.filter(uuid__in=data["assets"]))
        if len(assets) != len(set(data["assets"])):
            raise ValidationError({"assets": "Unknown asset id."})
        if data["outcome"]:
            services.record_rollback(
                rollout=rollout,
                wave=wave,
                actor=request.user,
                what=data["what"],
                outcome=data["outcome"],
                assets=assets,
            )
        else:
            services.request_rollback(
                rollout=rollout, wave=wave, actor=request.user, reason=data["what"], assets=assets
            )
        return self._fresh(rollout, request)

    @extend_schema(request=RollbackResultsSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"], url_path="rollback-results")
    def rollback_results(self, request, id=None):
        """Rollback outcomes per asset from an RMM that executed a rollback."""
        rollout = self.get_object()
        serializer = RollbackResultsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rollback = get_object_or_404(
            RollbackEvent, rollout=rollout, uuid=serializer.validated_data["rollback"]
        )
        targets = {
            str(t.asset.uuid): t
            for t in RollbackTarget.objects.filter(rollback=rollback).select_related("asset")
        }
        outcomes = serializer.validated_data["results"]
        unknown = [str(o["asset"]) for o in outcomes if str(o["asset"]) not in targets]
        if unknown:
            raise ValidationError({"results": f"Not in this rollback: {', '.join(unknown)}."})
        now = timezone.now()
        with transaction.atomic():
            for outcome in outcomes:
                services.record_rollback_outcome(
                    target=targets[str(outcome["asset"])],
                    succeeded=outcome["status"] == "rolled_back",
                    at=now,
                    message=outcome["message"],
                    actor=request.user,
                )
        return self._fresh(rollout, request)

    @extend_schema(request=RunbookRecordSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def runbook(self, request, id=None):
        """Record one runbook spot-check (pass/fail) for a wave."""
        rollout = self.get_object()
        serializer = RunbookRecordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wave = self._wave(rollout, data["wave"])
        check = get_object_or_404(RunbookCheck, uuid=data["check"])
        services.record_runbook_check(
            wave=wave, check=check, passed=data["passed"], actor=request.user, note=data["note"]
        )
        return self._fresh(rollout, request)

    @extend_schema(request=WaveResultsSerializer, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def results(self, request, id=None):
        """Deployment outcomes per asset from an RMM (deployed is not verified: the next
        inventory verifies)."""
        rollout = self.get_object()
        serializer = WaveResultsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wave = self._wave(rollout, serializer.validated_data["wave"])
        rows = {
            str(r.asset.uuid): r
            for r in wave.results.select_related("asset", "wave__ring", "wave__rollout")
        }
        outcomes = serializer.validated_data["results"]
        unknown = [str(o["asset"]) for o in outcomes if str(o["asset"]) not in rows]
        if unknown:
            raise ValidationError({"results": f"Not in this wave: {', '.join(unknown)}."})
        now = timezone.now()
        with transaction.atomic():
            for outcome in outcomes:
                services.record_deployment_outcome(
                    result=rows[str(outcome["asset"])],
                    succeeded=outcome["status"] == "deployed",
                    at=now,
                    message=outcome["message"],
                    actor=request.user,
                )
        return self._fresh(rollout, request)

    @extend_schema(request=None, responses=RolloutSerializer)
    @action(detail=True, methods=["post"])
    def evaluate(self, request, id=None):
        """Evaluate the rollout now instead of waiting for the next scheduled tick."""
        rollout = self.get_object()
        services.evaluate_rollout(rollout=rollout)
        return self._fresh(rollout, request)


class MaintenanceWindowViewSet(viewsets.ModelViewSet):
    """Maintenance windows per client, site or asset class (client time zone)."""

    serializer_class = MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilterSet
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["name"]
    search_fields = ["name"]

    def get_queryset(self):
        return selectors.visible_windows(self.request.user)

    def perform_create(self, serializer):
        with transaction.atomic():
            window = serializer.save()
            record_event(
                kind="window.created",
                subject_type="maintenance_window",
                subject_id=window.uuid,
                actor=self.request.user,
                payload={"name": window.name, "recurrence": window.recurrence},
            )

    def perform_update(self, serializer):
        with transaction.atomic():
            window = serializer.save()
            record_event(
                kind="window.updated",
                subject_type="maintenance_window",
                subject_id=window.uuid,
                actor=self.request.user,
                payload={"name": window.name},
            )

    def perform_destroy(self, instance):
        with transaction.atomic():
            record_event(
                kind="window.deleted",
                subject_type="maintenance_window",
                subject_id=instance.uuid,
                actor=self.request.user,
                payload={"name": instance.name},
            )
            instance.delete()


class RunbookCheckViewSet(viewsets.ModelViewSet):
    """The workload spot-checks of the client; editing needs the administer capability."""

    serializer_class = RunbookCheckSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    search_fields = ["name"]
    capabilities = {
        "GET": Capability.VIEW,
        "POST": Capability.ADMINISTER,
        "PUT": Capability.ADMINISTER,
        "PATCH": Capability.ADMINISTER,
        "DELETE": Capability.ADMINISTER,
    }

    def get_queryset(self):
        return selectors.visible_runbook_checks(self.request.user)

    def _record(self, kind: str, check: RunbookCheck) -> None:
        record_event(
            kind=kind,
            subject_type="runbook_check",
            subject_id=check.uuid,
            actor=self.request.user,
            payload={"name": check.name, "halts_on_failure": check.halts_on_failure},
        )

    def perform_create(self, serializer):
        with transaction.atomic():
            self._record("runbook.check_created", serializer.save())

    def perform_update(self, serializer):
        with transaction.atomic():
            self._record("runbook.check_updated", serializer.save())

    def perform_destroy(self, instance):
        with transaction.atomic():
            self._record("runbook.check_deleted", instance)
            instance.delete()
