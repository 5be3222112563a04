"""DRF and drf-spectacular wiring shared by every API view."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.dependencies import (
    DEPENDENCY_ERRORS,
    RETRY_AFTER_SECONDS,
    QueueUnavailable,
    unavailable_message,
)

# Path pattern of a public identifier (UUID) in API routes.
UUID_PATTERN = r"[0-9a-fA-F-]{36}"


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=``; answers ``count``, ``next``, ``previous`` and ``results``."""

    default_limit = 50
    max_limit = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """JSON errors for everything an API caller can cause; never a 500 for bad input."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "message_dict") else {"detail": exc.messages}
        exc = ValidationError(detail=detail)
    if isinstance(exc, ProtectedError):
        dependants = sorted({str(obj) for obj in exc.protected_objects})[:20]
        return Response(
            {"detail": "This object is still in use.", "dependants": dependants},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DEPENDENCY_ERRORS + (QueueUnavailable,)):
        return Response(
            {"detail": unavailable_message(exc)},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, ValidationError)
        and isinstance(response.data, list)
    ):
        response.data = {"detail": response.data}
    return response
