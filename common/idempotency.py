"""``Idempotency-Key`` on every POST of the API: a client that did not get the answer to a POST
(a timeout, a dropped connection) sends it again with the same key and gets the first answer
back instead of a second change.

The first request with a key runs; its answer (status, body, ``Content-Type`` and ``Location``)
is kept for ``IDEMPOTENCY_TTL_HOURS`` under the caller (its bearer token, or its signed-in user),
the client (the cache is keyed by schema) and the path. A repeat with the same body is answered
from the store with ``Idempotent-Replayed: true``; a repeat with another body is refused (422)
and a repeat while the first is still running is refused (409, retry later). An answer of 5xx
is not kept: the request may be sent again with the same key. A request without the header runs
as before.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

__all__ = ["IdempotencyMiddleware", "HEADER", "REPLAYED_HEADER"]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Bodies larger than this (uploads) are fingerprinted by their length and type, not hashed.
HASHED_BODY_LIMIT = 1024 * 1024
# A first request still running after this long is taken for lost; the key may be used again.
PENDING_SECONDS = 300
_KEPT_HEADERS = ("Content-Type", "Location")


def _principal(request: HttpRequest) -> str | None:
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization:
        return "auth:" + hashlib.sha256(authorization.encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _fingerprint(request: HttpRequest) -> str:
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    kind = request.META.get("CONTENT_TYPE", "")
    if length > HASHED_BODY_LIMIT or kind.startswith("multipart/"):
        return f"{kind.split(';')[0]}:{length}"
    return hashlib.sha256(request.body).hexdigest()


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


class IdempotencyMiddleware:
    """Applies to POST requests under an API prefix (``/api/``) that carry the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or "/api/" not in request.path:
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            return _error(
                400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
            )
        principal = _principal(request)
        if principal is None:  # not signed in: the view answers 401/403 as always
            return self.get_response(request)
        slot = (
            "idempotency:"
            + hashlib.sha256(f"{principal}\n{request.path}\n{key}".encode()).hexdigest()
        )
        fingerprint = _fingerprint(request)
        if not cache.add(slot, {"state": "pending", "fingerprint": fingerprint}, PENDING_SECONDS):
            kept = cache.get(slot)
            if kept is None:  # expired between the two calls: run it
                return self.get_response(request)
            if kept["fingerprint"] != fingerprint:
                return _error(
                    422,
                    f"This {HEADER} was used for a different request; use a new key for a new "
                    "request.",
                )
            if kept["state"] == "pending":
                response = _error(
                    409, f"A request with this {HEADER} is still being processed; retry later."
                )
                response["Retry-After"] = "1"
                return response
            return _replay(kept)
        try:
            response = self.get_response(request)
        except BaseException:
            cache.delete(slot)
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            cache.delete(slot)
            return response
        cache.set(
            slot,
            {
                "state": "done",
                "fingerprint": fingerprint,
                "status": response.status_code,
                "headers": {h: response[h] for h in _KEPT_HEADERS if response.has_header(h)},
                "content": base64.b64encode(response.content).decode(),
            },
            settings.IDEMPOTENCY_TTL_HOURS * 3600,
        )
        return response


def _replay(kept: dict) -> HttpResponse:
    response = HttpResponse(base64.b64decode(kept["content"]), status=kept["status"])
    for header, value in kept["headers"].items():
        response[header] = value
    response[REPLAYED_HEADER] = "true"
    return response
