"""Upload API: ``POST`` a file (multipart) and follow its state; the same checks and readers
as the pages and the commands."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import UUID_PATTERN
from common.apifilters import StrictSearchFilter
from common.apisync import UpdatedSinceFilter
from tenants.permissions import Capability, ClientAccess, current_client, may_import_catalogues

from .. import services
from ..models import UploadTarget
from ..views import queue_upload
from .serializers import (
    CatalogueUploadRequestSerializer,
    InventoryUploadRequestSerializer,
    UploadSerializer,
)


def _refused(exc: services.UploadRejected) -> exceptions.ValidationError:
    return exceptions.ValidationError({exc.field: [str(exc)]})


class _Uploads(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = UploadSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    # No field filters or orderings here; search and incremental sync only.
    filter_backends: list = [StrictSearchFilter, UpdatedSinceFilter]
    search_fields = ["name", "hostname"]
    http_method_names = ["get", "post", "head", "options"]
    parser_classes = [MultiPartParser]

    def created(self, upload: Any) -> Response:
        return Response(UploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)


class InventoryUploadViewSet(_Uploads):
    """A client's inventory files: upload (multipart ``file``, optional ``format`` and
    ``hostname``; 202, read in the background) and follow each one's state."""

    capabilities = {
        "list": Capability.OPERATE,
        "retrieve": Capability.OPERATE,
        "create": Capability.OPERATE,
    }

    def get_queryset(self) -> Any:
        client = current_client(self.request)
        return services.visible_uploads(target=UploadTarget.INVENTORY, client=client)

    @extend_schema(request=InventoryUploadRequestSerializer, responses={202: UploadSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = InventoryUploadRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            upload = services.accept_inventory_upload(
                client=current_client(request),
                uploaded=given.validated_data["file"],
                fmt=given.validated_data.get("format") or "",
                hostname=given.validated_data.get("hostname") or "",
                actor=request.user,
                queue=queue_upload,
            )
        except services.UploadRejected as exc:
            raise _refused(exc) from exc
        return self.created(upload)


class MayImportCatalogues(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        ClientAccess().has_permission(request, view)
        if not may_import_catalogues(request.user):
            raise exceptions.PermissionDenied(
                "Only MSP admins, engineers and MSP-wide write tokens upload catalogue files."
            )
        return True


class CatalogueUploadViewSet(_Uploads):
    """The MSP's catalogue files: upload (multipart ``file`` and ``kind``; 202, imported in the
    background) and follow each one's state."""

    permission_classes = [MayImportCatalogues]
    msp_capability = Capability.OPERATE

    def get_queryset(self) -> Any:
        return services.visible_uploads(target=UploadTarget.CATALOGUE, client=None)

    @extend_schema(request=CatalogueUploadRequestSerializer, responses={202: UploadSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = CatalogueUploadRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            upload = services.accept_catalogue_upload(
                uploaded=given.validated_data["file"],
                kind=given.validated_data["kind"],
                actor=request.user,
                queue=queue_upload,
            )
        except services.UploadRejected as exc:
            raise _refused(exc) from exc
        return self.created(upload)
