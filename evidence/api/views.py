"""Evidence API: the event log (read-only) and its verification."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from evidence.api.serializers import ChainStatusSerializer, EvidenceEventSerializer
from evidence.filters import EvidenceEventFilterSet
from evidence.models import EvidenceEvent
from evidence.selectors import verify_chain
from tenants.permissions import Capability


class EvidenceEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The client's append-only evidence log, oldest first."""

    queryset = EvidenceEvent.objects.all().order_by("sequence")
    serializer_class = EvidenceEventSerializer
    lookup_field = "uuid"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filterset_class = EvidenceEventFilterSet
    ordering_fields = ["sequence", "occurred_at"]
    updated_field = "occurred_at"  # append-only: a row's change time is when it happened
    search_fields = ["kind", "subject_id", "actor"]
    capabilities = {"GET": Capability.VIEW}

    @extend_schema(responses=ChainStatusSerializer, filters=False)
    @action(
        detail=False,
        methods=["get"],
        url_path="verify",
        filterset_class=None,
        pagination_class=None,
    )
    def verify(self, request, *args, **kwargs):
        """Recompute the whole chain now; ``ok`` false names the first broken event."""
        return Response(verify_chain().as_dict())


__all__ = ["EvidenceEventViewSet"]
