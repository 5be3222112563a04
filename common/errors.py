"""Error answers: JSON on the API whatever the cause, a plain page elsewhere, 503 when a
dependency is down. Named as handler400/403/404/500 in the project's URLconfs."""

from __future__ import annotations

import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from common.dependencies import (
    DEPENDENCY_ERRORS,
    RETRY_AFTER_SECONDS,
    QueueUnavailable,
    unavailable_message,
)
from common.middleware import is_api_path


def _json(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def bad_request(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if is_api_path(request.path):
        return _json(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if is_api_path(request.path):
        return _json(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if is_api_path(request.path):
        return _json(404, "Not found.")
    return defaults.page_not_found(request, exception)


def unavailable(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    detail = unavailable_message(exc)
    if is_api_path(request.path):
        response: HttpResponse = _json(503, detail)
    else:
        html = loader.get_template("503.html").render({"detail": detail})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    exc = sys.exc_info()[1]
    if isinstance(exc, DEPENDENCY_ERRORS + (QueueUnavailable,)):
        return unavailable(request, exc)
    if is_api_path(request.path):
        return _json(500, "Internal error; it has been logged.")
    return defaults.server_error(request)
