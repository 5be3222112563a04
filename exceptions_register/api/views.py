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
    """Exceptions of this client (list, detail, create).

    A created exception is ``pending_signoff``: the client owner signs or rejects it in the
    portal after re-entering their password. A duplicate request (same PSA ticket, same kind and
    scope as an exception still awaiting sign-off) answers 200 with that exception instead of
    creating a second one. The API has no sign, reject, update or delete
    operation, whatever the token's scope.
    """

    serializer_class = RiskExceptionSerializer
    lookup_field = "uuid"

    _merged = False

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        if response.status_code == 201 and self._merged:
            response.status_code = 200
        return response

    def perform_create(self, serializer) -> None:
        serializer.save()
        self._merged = getattr(serializer.instance, "merged_duplicate", False)

    filterset_class = ExceptionFilterSet
    search_fields = ["ticket_reference", "reason"]
    ordering_fields = ["expires_at", "created_at", "state"]
    ordering = ["expires_at"]
    capabilities = {"GET": Capability.VIEW, "POST": Capability.OPERATE}

    def get_queryset(self):
        return visible_exceptions().prefetch_related("assets", "findings")
