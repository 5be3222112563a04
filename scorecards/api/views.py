from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from scorecards import selectors
from scorecards.filters import ScorecardRowFilterSet

from .serializers import ClientRiskSerializer, ScorecardRowSerializer


class ScorecardRowViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Daily scorecard rows of the clients the caller may see (public rollup only)."""

    serializer_class = ScorecardRowSerializer
    filterset_class = ScorecardRowFilterSet
    ordering_fields = ["date", "compliance_pct", "open_critical"]
    search_fields = ["client__name", "client__slug"]

    def get_queryset(self):
        return selectors.visible_rows(self.request.user).order_by("-date", "client__name")

    @extend_schema(responses=ClientRiskSerializer(many=True))
    @action(detail=False, url_path="by-risk", filter_backends=[], pagination_class=None)
    def by_risk(self, request):
        """Clients by risk: latest row, risk index, top-20 % mark and 30-row trend."""
        return Response(
            ClientRiskSerializer(
                selectors.clients_by_risk(request.user), many=True, context={"request": request}
            ).data
        )
