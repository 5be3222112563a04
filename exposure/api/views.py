"""Exposure alerts and feeds, under /clients/<slug>/api/v1/."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from common.apiparsers import PayloadTooLarge, max_body_bytes, too_large_detail
from common.apisync import UpdatedSinceFilter
from exposure import inbound, services
from exposure.api.serializers import (
    ExposureAlertInSerializer,
    ExposureAlertSerializer,
    ExposureFeedSerializer,
    StepDoneSerializer,
)
from exposure.choices import Via
from exposure.models import ExposureFeed
from exposure.selectors import alerts
from tenants.permissions import Capability, current_client


def _refused(exc: ValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    )


class ExposureAlertViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Credential exposure alerts and the steps of their response (ticket, forced password
    reset, client owner told), each timed against the plan's response time. Posting the same
    exposure again within the window merges it (200, ``duplicates`` counts it)."""

    serializer_class = ExposureAlertSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    filter_backends = [UpdatedSinceFilter]
    capabilities = {"GET": Capability.VIEW, "POST": Capability.OPERATE}

    def get_queryset(self):
        return alerts()

    @extend_schema(request=ExposureAlertInSerializer, responses={201: ExposureAlertSerializer})
    def create(self, request):
        """Report one exposure (201 new, 200 merged into the same exposure)."""
        shape = ExposureAlertInSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        try:
            received = services.receive_alert(
                client=current_client(request),
                data=dict(shape.validated_data),
                via=Via.API,
                actor=request.user,
            )
        except services.NotInPlan as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except ValidationError as exc:
            raise _refused(exc) from exc
        alert = alerts().get(pk=received.alert.pk)
        code = status.HTTP_200_OK if received.merged else status.HTTP_201_CREATED
        return Response(ExposureAlertSerializer(alert).data, status=code)

    @extend_schema(request=StepDoneSerializer, responses={200: ExposureAlertSerializer})
    @action(detail=True, methods=["post"])
    def done(self, request, id=None):
        """Mark a manual step done: the password reset forced by hand, the owner told."""
        alert = self.get_object()
        body = StepDoneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.complete_step(
                alert=alert,
                step=body.validated_data["step"],
                note=body.validated_data.get("note", ""),
                actor=request.user,
            )
        except ValidationError as exc:
            raise _refused(exc) from exc
        return Response(ExposureAlertSerializer(alerts().get(pk=alert.pk)).data)


class ExposureFeedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Monitoring feeds that post signed alerts (MSP admins); the secret is write-only."""

    serializer_class = ExposureFeedSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    filter_backends = [UpdatedSinceFilter]
    capabilities = {"GET": Capability.ADMINISTER, "POST": Capability.ADMINISTER}

    def get_queryset(self):
        return ExposureFeed.objects.order_by("name", "pk")

    def perform_create(self, serializer):
        try:
            serializer.instance = services.create_feed(
                name=serializer.validated_data["name"],
                secret=serializer.validated_data["secret"],
                actor=self.request.user,
            )
        except ValidationError as exc:
            raise _refused(exc) from exc

    @extend_schema(
        request={"application/json": dict},
        responses={201: ExposureAlertSerializer, 400: None, 401: None, 403: None, 409: None},
        auth=[],
        description="The feed's webhook (no PatchOps token: its signature admits). "
        "`X-PatchOps-Timestamp`, `X-PatchOps-Signature: v1=<hex HMAC-SHA256 of "
        '"{timestamp}.{body}" with the feed secret>`, `X-PatchOps-Delivery`. Unsigned: 401; '
        "bad signature, old timestamp, switched-off feed or a plan without exposure "
        "monitoring: 403; delivery id seen before: 409; not one alert: 400.",
    )
    @action(
        detail=True,
        methods=["post"],
        authentication_classes=[],
        permission_classes=[AllowAny],
        parser_classes=[],
    )
    def inbound(self, request, id=None):
        """One alert the feed reports (signed by the feed)."""
        feed = get_object_or_404(ExposureFeed, uuid=id)
        limit = max_body_bytes()
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise PayloadTooLarge(too_large_detail(limit))
        try:
            received = inbound.receive_signed(
                client=current_client(request),
                feed=feed,
                headers=dict(request.headers),
                raw=request.body,
            )
        except inbound.InboundRefused as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        except ValidationError as exc:
            return Response(
                exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages},
                status=status.HTTP_400_BAD_REQUEST,
            )
        alert = alerts().get(pk=received.alert.pk)
        code = status.HTTP_200_OK if received.merged else status.HTTP_201_CREATED
        return Response(ExposureAlertSerializer(alert).data, status=code)
