"""API of the automatic patch policies (per client) and of the MSP-wide templates."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import UUID_PATTERN
from common.apisync import UPDATED_SINCE_PARAMETER, filter_since
from evidence.services import actor_label
from policytemplates.services import save_template
from rings import selectors, services
from rings.api.policy_serializers import (
    ApplyResultSerializer,
    ApplyTemplateSerializer,
    PatchPolicySerializer,
    PolicyRunSerializer,
    PolicyTemplateSerializer,
)
from tenants.permissions import Capability, MspAccess, visible_clients


class PatchPolicyViewSet(viewsets.ModelViewSet):
    """The client's automatic patch policies; writes need the operate capability. Each
    scheduled occurrence creates one rollout (or records "nothing to patch", or the error):
    ``runs/``."""

    serializer_class = PatchPolicySerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["name"]
    search_fields = ["name"]

    def get_queryset(self):
        return selectors.visible_patch_policies(self.request.user)

    def _fresh(self, policy, code=status.HTTP_200_OK) -> Response:
        policy = self.get_queryset().get(pk=policy.pk)
        return Response(
            PatchPolicySerializer(policy, context={"request": self.request}).data, status=code
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = services.save_policy(data=dict(serializer.validated_data), actor=request.user)
        return self._fresh(policy, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        policy = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(policy, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fresh = selectors.visible_patch_policies().get(pk=policy.pk)
        services.save_policy(data=dict(serializer.validated_data), actor=request.user, policy=fresh)
        return self._fresh(policy)

    def perform_destroy(self, instance):
        services.delete_policy(policy=instance, actor=self.request.user)

    @extend_schema(
        responses=PolicyRunSerializer(many=True),
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            UPDATED_SINCE_PARAMETER,
        ],
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def runs(self, request, id=None):
        """The policy's runs, newest occurrence first (``updated_since``: runs since then)."""
        policy = self.get_object()
        runs = filter_since(request, selectors.visible_policy_runs(policy), "ran_at")
        page = self.paginate_queryset(runs)
        data = PolicyRunSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


class PolicyTemplateViewSet(viewsets.ModelViewSet):
    """MSP-wide patch policy templates (MSP admins): define once, ``apply/`` to many clients,
    creating or updating each client's policy from the template."""

    serializer_class = PolicyTemplateSerializer
    permission_classes = [MspAccess]
    msp_capability = Capability.ADMINISTER
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["name"]
    search_fields = ["name"]

    def get_queryset(self):
        return selectors.visible_policy_templates(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = save_template(
            data=dict(serializer.validated_data), actor_label=actor_label(request.user)
        )
        return Response(self.get_serializer(template).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        template = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(template, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fresh = self.get_queryset().get(pk=template.pk)
        template = save_template(
            data=dict(serializer.validated_data),
            actor_label=actor_label(request.user),
            template=fresh,
        )
        return Response(self.get_serializer(template).data)

    @extend_schema(request=ApplyTemplateSerializer, responses=ApplyResultSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request, id=None):
        """Create or update the policy of each named client from this template, all or none:
        a client that cannot take it (a missing asset class or ring, another policy of the
        same name) answers 400 naming it, and nothing is applied."""
        template = self.get_object()
        serializer = ApplyTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        slugs = list(dict.fromkeys(serializer.validated_data["clients"]))
        found = {c.slug: c for c in visible_clients(request.user).filter(slug__in=slugs)}
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise ValidationError({"clients": f"Unknown client: {', '.join(unknown)}."})
        results = services.apply_template(
            template=template, clients=[found[s] for s in slugs], actor=request.user
        )
        return Response(ApplyResultSerializer({"results": [r.as_dict() for r in results]}).data)


__all__ = ["PatchPolicyViewSet", "PolicyTemplateViewSet"]
