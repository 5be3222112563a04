"""Cross-client, read-only catalogue API: reference data, no client's rows.

Any signed-in principal may read it except agent tokens (``ClientAccess`` refuses those outside a
client); nothing here writes: catalogue rows come from the importers.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue import selectors
from catalogue.filters import AdvisoryFilterSet, KevEntryFilterSet, VulnerabilityFilterSet
from catalogue.freshness import catalogue_freshness

from .serializers import (
    AdvisorySerializer,
    CatalogueFreshnessSerializer,
    KevEntrySerializer,
    VulnerabilitySerializer,
)

CVE_LOOKUP = r"CVE-\d{4}-\d{4,}"


class VulnerabilityViewSet(viewsets.ReadOnlyModelViewSet):
    """CVEs with CVSS v3.1/v4, KEV flag and EPSS."""

    serializer_class = VulnerabilitySerializer
    filterset_class = VulnerabilityFilterSet
    lookup_field = "cve_id"
    lookup_url_kwarg = "cve"
    lookup_value_regex = CVE_LOOKUP
    search_fields = ["cve_id", "description"]
    ordering_fields = ["cve_id", "cvss3_score", "epss_score", "published_at"]

    def get_queryset(self):
        return selectors.vulnerabilities_with_signals()


class AdvisoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Vendor advisories (KBs, USNs, DSAs, GHSAs) with their per-product fixes."""

    serializer_class = AdvisorySerializer
    filterset_class = AdvisoryFilterSet
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    search_fields = ["identifier", "title"]
    ordering_fields = ["identifier", "release_date"]

    def get_queryset(self):
        return selectors.advisories_with_fixes()


class KevEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """CISA Known Exploited Vulnerabilities entries."""

    serializer_class = KevEntrySerializer
    filterset_class = KevEntryFilterSet
    lookup_field = "cve_id"
    lookup_url_kwarg = "cve"
    lookup_value_regex = CVE_LOOKUP
    search_fields = ["cve_id", "vendor", "product", "name"]
    ordering_fields = ["cve_id", "date_added", "due_date"]

    def get_queryset(self):
        return selectors.kev_entries()


class CatalogueFreshnessView(APIView):
    """Each catalogue's as-of date, age and staleness (``catalogue.freshness``)."""

    @extend_schema(responses=CatalogueFreshnessSerializer(many=True))
    def get(self, request: Request) -> Response:
        states = [s.as_dict() for s in catalogue_freshness()]
        return Response(CatalogueFreshnessSerializer(states, many=True).data)
