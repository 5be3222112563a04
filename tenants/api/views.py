from django_filters import rest_framework as filters
from rest_framework import generics, viewsets

from common.filtering import IsoDateTimeFilter
from tenants.api.serializers import ClientSerializer
from tenants.models import Client
from tenants.permissions import current_client, visible_clients


class ClientFilterSet(filters.FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Client
        fields = ["slug", "is_hipaa", "plan", "timezone"]


class ClientViewSet(viewsets.ReadOnlyModelViewSet):
    """Clients the caller may see (cross-client)."""

    serializer_class = ClientSerializer
    lookup_field = "slug"
    filterset_class = ClientFilterSet
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "slug", "created_at"]

    def get_queryset(self):
        return visible_clients(self.request.user)


class CurrentClientView(generics.RetrieveAPIView):
    """The client this URL belongs to, as the caller sees it."""

    serializer_class = ClientSerializer

    def get_object(self):
        return current_client(self.request)
