"""API of the webhook endpoints: a client's under /clients/<slug>/api/v1/webhooks/, the MSP's
(every client) under /api/v1/webhooks/. MSP admins (the administer capability)."""

from __future__ import annotations

import uuid

from django_tenants.utils import schema_context
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from common.apifilters import StrictSearchFilter
from common.apisync import UpdatedSinceFilter
from tenants.permissions import Capability, MspAccess, current_client, visible_clients

from .. import services
from ..models import WebhookEndpoint
from .serializers import (
    DeliverySerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    TestRequestSerializer,
)

UUID_PATTERN = r"[0-9a-fA-F-]{36}"
LOG_SIZE = 100


def _with_secret(created: services.Created) -> dict:
    endpoint = created.endpoint
    endpoint.secret = created.secret
    return EndpointWithSecretSerializer(endpoint).data


class _EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = EndpointSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    # No field filters or orderings here; search and incremental sync only.
    filter_backends: list = [StrictSearchFilter, UpdatedSinceFilter]
    search_fields = ["url", "description"]
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def scope_client(self):
        raise NotImplementedError

    def get_queryset(self):
        return (
            WebhookEndpoint.objects.filter(client=self.scope_client())
            .select_related("client")
            .order_by("created_at")
        )

    def get_object(self) -> WebhookEndpoint:
        try:
            pk = uuid.UUID(str(self.kwargs["id"]))
        except ValueError:
            raise NotFound("No such webhook endpoint.") from None
        endpoint = self.get_queryset().filter(uuid=pk).first()
        if endpoint is None:
            raise NotFound("No such webhook endpoint.")
        return endpoint

    @extend_schema(request=EndpointSerializer, responses={201: EndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        """Add an endpoint; the answer holds its signing secret, shown this once."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.create_endpoint(
            client=self.scope_client(), actor=request.user, request=request,
            **serializer.validated_data,
        )  # fmt: skip
        return Response(_with_secret(created), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        """Change the URL, events, description or active flag (PATCH: only the keys given)."""
        endpoint = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(endpoint, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k in request.data}
        endpoint = services.update_endpoint(
            endpoint=endpoint, data=data, actor=request.user, request=request
        )
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(request=None, responses=EndpointWithSecretSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, id=None):
        """A new signing secret (in this answer only). The previous one signs beside it for
        WEBHOOK_ROTATION_GRACE_HOURS: deliveries carry two ``v1=`` signatures meanwhile."""
        rotated = services.rotate_secret(
            endpoint=self.get_object(), actor=request.user, request=request
        )
        return Response(_with_secret(rotated))

    def test_client(self, request):
        raise NotImplementedError

    @extend_schema(request=TestRequestSerializer, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, id=None):
        """Queue a ``webhook.test`` delivery through the same path as every event."""
        endpoint = self.get_object()
        client = self.test_client(request)
        with schema_context(client.schema_name):
            message = services.send_test(endpoint=endpoint, client=client)
        message.client_slug = client.slug
        return Response(DeliverySerializer(message).data, status=status.HTTP_202_ACCEPTED)

    def clients(self, request):
        raise NotImplementedError

    @extend_schema(responses=DeliverySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def deliveries(self, request, id=None):
        """The endpoint's latest deliveries (at most 100), newest first."""
        endpoint = self.get_object()
        rows = []
        for client in self.clients(request):
            with schema_context(client.schema_name):
                found = list(services.deliveries_of(endpoint)[:LOG_SIZE])
            for row in found:
                row.client_slug = client.slug
            rows.extend(found)
        rows.sort(key=lambda m: (m.created_at, m.pk), reverse=True)
        return Response(DeliverySerializer(rows[:LOG_SIZE], many=True).data)


class ClientEndpointViewSet(_EndpointViewSet):
    """The client's webhook endpoints (MSP admins)."""

    capabilities = {m: Capability.ADMINISTER for m in ("GET", "POST", "PUT", "PATCH")}

    def scope_client(self):
        return current_client(self.request)

    def test_client(self, request):
        # The body is optional, but when given it must be a well-formed document.
        TestRequestSerializer(data=request.data or {}).is_valid(raise_exception=True)
        return current_client(request)

    def clients(self, request):
        return [current_client(request)]

    @extend_schema(
        request=None,
        responses=DeliverySerializer,
        parameters=[OpenApiParameter("delivery", str, OpenApiParameter.PATH)],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery>[0-9a-fA-F-]{36})/retry",
        url_name="delivery-retry",
    )
    def retry(self, request, id=None, delivery=None):
        """Send a dead delivery again (same delivery id, its full attempts)."""
        endpoint = self.get_object()
        client = current_client(request)
        if not services.deliveries_of(endpoint).filter(uuid=delivery).exists():
            raise NotFound("No such delivery of this endpoint.")
        message = services.retry_delivery(endpoint=endpoint, delivery=delivery, actor=request.user)
        message.client_slug = client.slug
        return Response(DeliverySerializer(message).data)


class MspEndpointViewSet(_EndpointViewSet):
    """The MSP's webhook endpoints, hearing every client (MSP admins, MSP-wide tokens of the
    administer capability). ``test`` names the client in ``client``; a dead delivery is sent
    again through the client's outbox (``outbox-messages/<id>/retry/``)."""

    permission_classes = [MspAccess]
    msp_capability = Capability.ADMINISTER

    def scope_client(self):
        return None

    def test_client(self, request):
        serializer = TestRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        slug = serializer.validated_data.get("client")
        if not slug:
            raise ValidationError({"client": "Name the client (its slug)."})
        client = visible_clients(request.user).filter(slug=slug).first()
        if client is None:
            raise ValidationError({"client": f"Unknown client: {slug}."})
        return client

    def clients(self, request):
        return list(visible_clients(request.user))


__all__ = ["ClientEndpointViewSet", "MspEndpointViewSet"]
