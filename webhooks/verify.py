"""Verify a PatchOps webhook delivery (receivers may copy this file: it needs only the standard
library).

Every delivery is a POST whose JSON body is signed with the endpoint's secret::

    X-PatchOps-Timestamp: 1764787200
    X-PatchOps-Signature: v1=5f0c…e1            (one v1= per secret that signs, comma-separated)
    X-PatchOps-Delivery: 3f6d2c1e-…              (the same on every attempt of one delivery)
    X-PatchOps-Event: rollout.halted

``v1`` is the hex HMAC-SHA256 of ``"{timestamp}.{body}"`` (the timestamp header's digits, a dot,
the raw body bytes) under the secret. While a rotated secret is in its grace period the header
carries two ``v1=`` values (new secret first, then the old one); accept the delivery when any of
them matches a secret you hold.

A receiver refuses a replay: a timestamp further than the tolerance (default 300 seconds,
``WEBHOOK_TOLERANCE_SECONDS``) from its own clock, and a delivery id it has already processed
(keep the ids at least as long as the tolerance). Retries of one delivery carry the same
delivery id and a fresh timestamp and signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SignatureError", "compute_signature", "verify"]

DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The delivery is not signed by a secret you hold, or is too old (or too new)."""


def compute_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under ``secret``."""
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    *,
    body: bytes,
    timestamp: str,
    signature: str,
    secrets: list[str] | tuple[str, ...],
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery's headers against the secrets you hold; returns the timestamp (seconds
    since the epoch). Raises ``SignatureError`` when no ``v1`` value matches or the timestamp is
    outside ``tolerance``. Refusing a delivery id seen before is the receiver's own store."""
    if not timestamp.isdigit():
        raise SignatureError("The timestamp header is not a number of seconds.")
    sent = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        raise SignatureError("The timestamp is outside the tolerance (a replay, or a clock off).")
    given = [part.strip()[3:] for part in signature.split(",") if part.strip().startswith("v1=")]
    for secret in secrets:
        expected = compute_signature(secret, timestamp, body)
        if any(hmac.compare_digest(expected, value) for value in given):
            return sent
    raise SignatureError("No v1 signature matches a secret you hold.")
