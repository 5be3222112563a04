"""Second factors for the tests: an RFC 6238 TOTP of our own (hmac + hashlib + base32, not
django-otp's), and signing test users in with a verified session the way production does.

``enrol(user)`` goes through the enrolment service with a code computed here; ``verify_session``
marks a test client's session verified through ``accounts.second_factor.mark_verified``, as the
verify page does once a code is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from types import SimpleNamespace
from typing import Any

STEP = 30
DIGITS = 6


def _key(secret: str) -> bytes:
    """The key of a base32 secret as authenticator apps take it (spaces, any case, no padding)."""
    clean = secret.replace(" ", "").upper()
    return base64.b32decode(clean + "=" * (-len(clean) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226: HMAC-SHA1 over the 8-byte counter, dynamic truncation."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // STEP)


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 code of a base32 ``secret`` at the Unix time ``at`` (now by default)."""
    return hotp(_key(secret), time_step(at))


def totp_at_step(secret: str, step: int) -> str:
    return hotp(_key(secret), step)


def secret_of(user: Any) -> str:
    """The base32 secret of the user's confirmed authenticator (the key the app was given)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return base64.b32encode(bytes.fromhex(device.key)).decode("ascii").rstrip("=")


def fresh_code(user: Any, secret: str | None = None) -> str:
    """A code the user's authenticator accepts now: one time step newer than the last accepted
    one (codes are single use), within the one-step tolerance, waiting for the next step if
    the tolerance is used up. ``secret``: the key as the enrolment page showed it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    secret = secret or secret_of(user)
    while True:
        now = time_step()
        step = max(now - 1, device.last_t + 1)
        if step <= now + 1:
            return totp_at_step(secret, step)
        time.sleep(STEP - time.time() % STEP + 0.05)


def enrol(user: Any) -> str:
    """Add an authenticator app to ``user`` through the enrolment service; answer its secret."""
    from accounts.mfa import services

    secret = services.provisioning(services.pending_device(user)).secret
    services.confirm_enrolment(user=user, code=totp(secret))
    return secret


def verify_session(http: Any, user: Any) -> None:
    """Mark the test client's session (of ``user``, already signed in) as having given its
    second factor, enrolling the user first when it needs one and has none."""
    from accounts.second_factor import has_factor, mark_verified, needs_second_factor

    if needs_second_factor(user) and not has_factor(user):
        enrol(user)
    if not has_factor(user):
        return  # nothing to verify: production leaves such a session as it is
    session = http.session
    mark_verified(SimpleNamespace(session=session, user=user), method="totp")
    session.save()


def sign_in(http: Any, user: Any) -> Any:
    """``force_login`` plus a verified second factor: a session as production leaves it."""
    http.force_login(user)
    verify_session(http, user)
    return http
