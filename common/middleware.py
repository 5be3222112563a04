"""Requests refused before any view runs: bodies over the limit and NUL in the query string."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.apiparsers import too_large_detail
from common.dependencies import DEPENDENCY_ERRORS, QueueUnavailable
from common.errors import is_api_path, unavailable

UPLOAD_PATH_SUFFIX = "uploads/"


class RequestLimitsMiddleware:
    """A body larger than ``REQUEST_MAX_BODY_BYTES`` (``UPLOAD_MAX_BYTES`` for a file upload, a
    POST to a path ending in ``uploads/``) is a 413 (JSON on the API, a plain page elsewhere)
    before it is read; a NUL byte in the query string is a 400, since no stored value can hold
    one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(getattr(settings, "REQUEST_MAX_BODY_BYTES", 10 * 1024 * 1024))
        if request.method == "POST" and request.path.endswith(UPLOAD_PATH_SUFFIX):
            limit = max(limit, int(getattr(settings, "UPLOAD_MAX_BYTES", limit)))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._refuse(request, 400, "The Content-Length header is not a number.")
        if length > limit:
            return self._refuse(request, 413, too_large_detail(limit))
        if b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            return self._refuse(request, 400, "The query string must not contain NUL characters.")
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, status: int, detail: str) -> HttpResponse:
        if is_api_path(request.path):
            return JsonResponse({"detail": detail}, status=status)
        return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


class DependencyErrorMiddleware:
    """A view that meets a lost database or broker answers 503 with ``Retry-After`` (JSON on
    the API), in development too, where Django would otherwise show its debug page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DEPENDENCY_ERRORS + (QueueUnavailable,)):
            return unavailable(request, exception)
        return None


def _policy_header(directives: dict[str, list[str] | tuple[str, ...]], *, sep: str) -> str:
    return sep.join(f"{name} {' '.join(values)}".strip() for name, values in directives.items())


class SecurityHeadersMiddleware:
    """``Content-Security-Policy`` and ``Permissions-Policy`` on every response: pages, errors,
    redirects, the API, its documentation, the admin and static files.

    The policies are fixed (``CONTENT_SECURITY_POLICY``, ``PERMISSIONS_POLICY`` in settings) and
    built once: no page runs an inline script or event handler (each page's script is a file
    under ``static/js/``), so no nonce or hash is needed. ``CONTENT_SECURITY_POLICY_PATHS``
    replaces directives under a path prefix (Django's admin writes inline styles; its scripts
    stay as strict as everywhere). First in ``MIDDLEWARE``, so the other middleware's answers
    (413, 503, the 500 page) carry the headers too. A view that set a header keeps its own.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        base = dict(settings.CONTENT_SECURITY_POLICY)
        self.csp = _policy_header(base, sep="; ")
        self.csp_by_prefix = [
            (prefix, _policy_header(base | dict(changes), sep="; "))
            for prefix, changes in getattr(settings, "CONTENT_SECURITY_POLICY_PATHS", {}).items()
        ]
        self.permissions = ", ".join(
            f"{feature}=({' '.join(allow)})"
            for feature, allow in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        csp = next((v for p, v in self.csp_by_prefix if request.path.startswith(p)), self.csp)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = csp
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.permissions
        return response
