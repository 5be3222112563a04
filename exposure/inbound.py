"""A feed's signed webhook: the ``webhooks.verify`` scheme, inbound.

The feed signs each POST with its secret as PatchOps signs its own deliveries::

    X-PatchOps-Timestamp: 1764787200
    X-PatchOps-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">
    X-PatchOps-Delivery: <an id unique per delivery>

An unsigned call is 401, a bad signature, an old timestamp or a switched-off feed 403, a
delivery id already processed 409 and a body that is not one alert 400; nothing changes then.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.cache import cache

from tenants.models import Client
from webhooks.verify import SignatureError, verify

from . import services
from .choices import Via
from .models import ExposureFeed

__all__ = ["InboundRefused", "receive_signed"]


class InboundRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _header(headers: dict[str, str], name: str) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    return str(lowered.get(name.lower(), "")).strip()


def receive_signed(
    *, client: Client, feed: ExposureFeed, headers: dict[str, str], raw: bytes
) -> services.Received:
    """Verify and record one alert a feed posted (``InboundRefused`` with its status)."""
    timestamp = _header(headers, "X-PatchOps-Timestamp")
    signature = _header(headers, "X-PatchOps-Signature")
    delivery = _header(headers, "X-PatchOps-Delivery")
    if not (timestamp and signature and delivery):
        raise InboundRefused(
            "Sign the call: X-PatchOps-Timestamp, X-PatchOps-Signature and X-PatchOps-Delivery.",
            401,
        )
    if not feed.is_active:
        raise InboundRefused("This feed is switched off.", 403)
    tolerance = settings.WEBHOOK_TOLERANCE_SECONDS
    try:
        verify(
            body=raw,
            timestamp=timestamp,
            signature=signature,
            secrets=[feed.secret],
            tolerance=tolerance,
        )
    except SignatureError as exc:
        raise InboundRefused(str(exc), 403) from exc
    seen = f"exposure:delivery:{client.schema_name}:{feed.uuid}:{delivery[:100]}"
    if cache.get(seen):
        raise InboundRefused("This delivery was already processed.", 409)
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InboundRefused(f"The body is not JSON: {exc}", 400) from exc
    try:
        received = services.receive_alert(
            client=client, data=data, via=Via.WEBHOOK, actor=f"feed:{feed.name}", feed=feed
        )
    except services.NotInPlan as exc:
        raise InboundRefused(str(exc), 403) from exc
    cache.set(seen, 1, timeout=2 * tolerance)
    return received
