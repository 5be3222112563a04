"""``/clients/<slug>/api/v1/privileged-accounts/``, ``privileged-issues/`` and
``offboarding-checklists/``: reads need VIEW (read tokens), changes OPERATE (write tokens)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .. import services
from ..filters import AccountFilterSet
from ..models import (
    OffboardingChecklist,
    OffboardingItem,
    PrivilegedAccount,
    PrivilegedAccountIssue,
)
from ..selectors import open_issues
from .serializers import (
    ChecklistSerializer,
    DatedActionSerializer,
    IssueSerializer,
    PrivilegedAccountSerializer,
    ReasonSerializer,
    TickSerializer,
)

UUID_REGEX = r"[0-9a-fA-F-]{36}"


class PrivilegedAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The client's privileged, shared-admin, service and break-glass accounts (never their
    secrets: a payload with a password or secret field is refused). No delete: disable."""

    serializer_class = PrivilegedAccountSerializer
    filterset_class = AccountFilterSet
    lookup_field = "uuid"
    lookup_value_regex = UUID_REGEX
    search_fields = ["name", "identifier", "owner_email"]
    ordering_fields = ["name", "last_rotated_on", "last_reviewed_on", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return PrivilegedAccount.objects.select_related("owner_user").prefetch_related(
            "systems", "issues"
        )

    def _dated(self, request, handler, message: str):
        account = self.get_object()
        serializer = DatedActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        try:
            handler(account=account, actor=request.user, on=d.get("on"), note=d.get("note", ""))
        except DjangoValidationError as error:
            raise ValidationError(
                error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
            ) from error
        return Response(self.get_serializer(self.get_object()).data, status=status.HTTP_200_OK)

    @extend_schema(request=DatedActionSerializer, responses={200: PrivilegedAccountSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, uuid=None):
        """The credential was rotated (in the vault): open rotation issues are resolved."""
        return self._dated(request, services.record_rotation, "rotated")

    @extend_schema(request=DatedActionSerializer, responses={200: PrivilegedAccountSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, uuid=None):
        """The account's access was reviewed: open review issues are resolved."""
        return self._dated(request, services.record_review, "reviewed")

    @extend_schema(request=ReasonSerializer, responses={200: PrivilegedAccountSerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, uuid=None):
        account = self.get_object()
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.disable_account(
            account=account, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_object()).data, status=status.HTTP_200_OK)


class PrivilegedIssueViewSet(viewsets.ReadOnlyModelViewSet):
    """Overdue rotations and reviews (their own SLA: ``resolve_by``); open ones by default,
    ``?state=resolved`` for the resolved."""

    serializer_class = IssueSerializer
    lookup_field = "uuid"
    lookup_value_regex = UUID_REGEX
    filterset_fields = ["state", "kind"]
    ordering_fields = ["resolve_by", "due_on", "opened_at"]
    ordering = ["resolve_by"]

    def get_queryset(self):
        if self.action == "list" and "state" not in self.request.query_params:
            return open_issues()
        return PrivilegedAccountIssue.objects.select_related("account")


class OffboardingChecklistViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Leavers' checklists. Creating one for a person who has an open checklist returns it."""

    serializer_class = ChecklistSerializer
    lookup_field = "uuid"
    lookup_value_regex = UUID_REGEX
    filterset_fields = ["state"]
    ordering = ["-created_at"]

    def get_queryset(self):
        items = OffboardingItem.objects.select_related("account").order_by("order", "pk")
        return OffboardingChecklist.objects.prefetch_related(Prefetch("items", queryset=items))

    @extend_schema(request=TickSerializer, responses={200: ChecklistSerializer})
    @action(detail=True, methods=["post"])
    def tick(self, request, uuid=None):
        """Mark one item done, by the signed-in engineer, with a note (tokens cannot: the
        checklist records a named person)."""
        checklist = self.get_object()
        serializer = TickSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = get_object_or_404(checklist.items.all(), uuid=serializer.validated_data["item"])
        services.tick_item(item=item, actor=request.user, note=serializer.validated_data["note"])
        return Response(self.get_serializer(self.get_object()).data, status=status.HTTP_200_OK)
