"""``/clients/<slug>/api/v1/exceptions/``: list, detail (VIEW) and create (OPERATE).

There is deliberately no sign, reject or update endpoint: a signature needs the client owner,
in the portal, re-entering their password.
"""

from __future__ import annotations

from rest_framework import mixins, viewsets

from tenants.permissions import Capability

from ..filters import ExceptionFilterSet
from ..selectors import visible_exceptions
from .serializers import RiskExceptionSerializer


class RiskExceptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Exceptions of this client. Created exceptions await the owner's signature in the portal."""

    serializer_class = RiskExceptionSerializer
    lookup_field = "uuid"
    filterset_class = ExceptionFilterSet
    search_fields = ["ticket_reference", "reason"]
    ordering_fields = ["expires_at", "created_at", "state"]
    ordering = ["expires_at"]
    capabilities = {"GET": Capability.VIEW, "POST": Capability.OPERATE}

    def get_queryset(self):
        return visible_exceptions().prefetch_related("assets", "findings")
