"""Token authentication with its failures throttled and audited.

Each refused Bearer token (unknown, wrong secret, revoked, malformed) counts against the client
address; ``API_TOKEN_FAILURE_RATE`` failures (default 10 a minute) block Bearer authentication
from that address until the oldest of them leaves the window: it answers 429 with
``Retry-After``, even for a good token. Other addresses are not affected. Every refusal is a
``token.auth_failed`` row of the audit log (while blocked, only the first blocked attempt is).
The counters live in the cache under one key per address, the same for every client's URL.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import get_public_schema_name, schema_context
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from tenants.authentication import ApiTokenAuthentication
from tenants.permissions import current_client

from . import audit
from .audit import client_ip


class TokenFailureThrottle(SimpleRateThrottle):
    """A sliding window of refused tokens per client address (a DRF rate, e.g. ``10/minute``,
    from ``API_TOKEN_FAILURE_RATE``)."""

    scope = "token_failures"
    cache = cache

    def get_rate(self) -> str:
        return settings.API_TOKEN_FAILURE_RATE

    def get_cache_key(self, request: Any, view: Any = None) -> str:
        return f"token-failures:{client_ip(getattr(request, '_request', request)) or 'unknown'}"

    def _load(self, request: Any) -> None:
        self.key = self.get_cache_key(request)
        with schema_context(get_public_schema_name()):  # one counter for every client's URL
            self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()

    def wait_seconds(self, request: Any) -> float | None:
        """Seconds until this address may try a token again, or None when it may now."""
        self._load(request)
        if len(self.history) >= self.num_requests:
            return self.wait()
        return None

    def record_failure(self, request: Any) -> None:
        self._load(request)
        self.history.insert(0, self.now)
        with schema_context(get_public_schema_name()):
            self.cache.set(self.key, self.history[: self.num_requests + 1], self.duration)

    def mark_blocked(self, request: Any) -> bool:
        """True the first time a blocked address tries again in this window."""
        with schema_context(get_public_schema_name()):
            return self.cache.add(f"{self.key}:blocked", 1, self.duration)

    def wait(self) -> float:
        # The oldest failure that still counts leaves the window then.
        oldest = self.history[self.num_requests - 1] if self.history else self.now
        return max(1.0, self.duration - (self.now - oldest))


class AuditedTokenAuthentication(ApiTokenAuthentication):
    """``tenants.authentication.ApiTokenAuthentication`` behind the failure throttle."""

    def authenticate(self, request: Any) -> Any:
        header = get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        throttle = TokenFailureThrottle()
        wait = throttle.wait_seconds(request)
        if wait is not None:
            if throttle.mark_blocked(request):
                self._audit(request, header, "Too many refused tokens from this address.")
            raise exceptions.Throttled(
                wait=wait,
                detail="Too many refused tokens from this address; try again later.",
            )
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed as exc:
            throttle.record_failure(request)
            self._audit(request, header, str(exc.detail))
            raise

    @staticmethod
    def _audit(request: Any, header: list[str], reason: str) -> None:
        raw = getattr(request, "_request", request)
        parts = header[1].split("_", 2) if len(header) == 2 else []
        key_id = parts[1][:16] if len(parts) == 3 else ""
        audit.record(
            "token.auth_failed",
            actor_label=f"address {client_ip(raw) or 'unknown'}",
            client=current_client(raw),
            request=raw,
            target=key_id,
            reason=reason,
            path=raw.path[:200],
        )
