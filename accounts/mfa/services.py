"""Enrolling, checking and removing second factors; the viewers' requirement of a client.

Every code is checked by django-otp (``TOTPDevice`` for authenticator apps, ``StaticDevice`` for
recovery codes): a TOTP code is accepted once (never again, nor an older one), a recovery code is
deleted as it is used, and wrong codes slow the next attempt down (1, 2, 4… seconds). Each
outcome is a row of the audit log (``accounts.audit``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import segno
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from evidence.services import record_event
from tenants.models import Client, Membership, User

from .. import audit

__all__ = [
    "RECOVERY_CODE_COUNT",
    "MfaError",
    "Provisioning",
    "confirmed_device",
    "pending_device",
    "provisioning",
    "confirm_enrolment",
    "verify_second_factor",
    "regenerate_recovery_codes",
    "remove_factor",
    "recovery_codes_left",
    "set_viewer_requirement",
    "reset_staff_factor",
]

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
_TOTP_CODE = re.compile(r"^\d{6}$")


class MfaError(Exception):
    """A code was refused; ``message`` says why, for the person who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Provisioning:
    """What an authenticator app needs: the otpauth:// URI (as a QR code) or the key typed in."""

    uri: str
    secret: str  # base32, as authenticator apps take it
    qr_svg: str  # an inline <svg> element (no script, no external resource)

    @property
    def secret_grouped(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _client_of(user: Any) -> Client | None:
    """The client a client user's security events concern (its owners see them); None for staff."""
    if user.staff_role or user.is_superuser:
        return None
    membership = Membership.objects.filter(user=user).select_related("client").first()
    return membership.client if membership else None


def _record(kind: str, *, user: Any, request: HttpRequest | None, **detail: Any) -> None:
    audit.record(
        kind,
        actor=user,
        client=_client_of(user),
        request=request,
        target=user.email,
        **detail,
    )


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def pending_device(user: Any) -> TOTPDevice:
    """The unconfirmed TOTP device enrolment shows (one key on every reload until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def provisioning(device: TOTPDevice) -> Provisioning:
    uri = device.config_url
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=4, dark="#111", light="#fff", title="Authenticator app QR code")
    return Provisioning(uri=uri, secret=secret, qr_svg=svg)


def _normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _wait_message(device: Any) -> str | None:
    """A sentence saying how long to wait when the device refuses to check codes for now."""
    allowed, data = device.verify_is_allowed()
    if allowed:
        return None
    until = (data or {}).get("locked_until")
    seconds = max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1
    return (
        f"Too many wrong codes. Wait {seconds} second{'s' if seconds != 1 else ''} and try again."
    )


def _new_recovery_codes(user: Any) -> list[str]:
    """Replace every recovery code of ``user`` with a new set (the old ones stop working)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return [f"{c[:4]}-{c[4:]}" for c in codes]


def confirm_enrolment(*, user: Any, code: str, request: HttpRequest | None = None) -> list[str]:
    """Confirm the pending authenticator with a code it shows; answer the new recovery codes
    (shown once). Raises ``MfaError`` (nothing changed but the failure count) for a wrong code."""
    if confirmed_device(user) is not None:
        raise MfaError("You already have an authenticator app. Remove it before adding another.")
    token = _normalise(code)
    if not _TOTP_CODE.match(token):
        raise MfaError("Enter the 6-digit code your authenticator app shows.")
    device = pending_device(user)
    wait = _wait_message(device)
    if wait:
        raise MfaError(wait)
    with transaction.atomic():
        accepted = verify_token(user, device.persistent_id, token)
        if accepted is not None:
            TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            codes = _new_recovery_codes(user)
            _record("mfa.enrolled", user=user, request=request, method="totp")
            _record("mfa.recovery_codes_generated", user=user, request=request, count=len(codes))
            return codes
    _record("mfa.failed", user=user, request=request, step="enrolment", method="totp")
    raise MfaError(
        "That code is not the one your authenticator app shows now. Check that the app added "
        "this key and that your device's clock is right, then enter the new code."
    )


def verify_second_factor(
    *, user: Any, code: str, request: HttpRequest | None = None, step: str = "sign-in"
) -> str:
    """Check a code from the authenticator app or one recovery code; answer the method
    (``totp`` or ``recovery_code``). A used recovery code is gone. Raises ``MfaError``."""
    device = confirmed_device(user)
    if device is None:
        raise MfaError("You have no second factor yet: add an authenticator app first.")
    token = _normalise(code)
    if not token:
        raise MfaError("Enter the 6-digit code from your authenticator app, or a recovery code.")
    if _TOTP_CODE.match(token):
        wait = _wait_message(device)
        if wait:
            _record("mfa.failed", user=user, request=request, step=step, reason="throttled")
            raise MfaError(wait)
        if verify_token(user, device.persistent_id, token) is not None:
            return "totp"
        _record("mfa.failed", user=user, request=request, step=step, method="totp")
        raise MfaError(
            "That code is not right, or it was already used. Enter the code your authenticator "
            "app shows now."
        )
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if recovery is not None:
        wait = _wait_message(recovery)
        if wait:
            _record("mfa.failed", user=user, request=request, step=step, reason="throttled")
            raise MfaError(wait)
        if verify_token(user, recovery.persistent_id, token) is not None:
            left = recovery.token_set.count()
            _record("mfa.recovery_code_used", user=user, request=request, step=step, left=left)
            return "recovery_code"
    _record("mfa.failed", user=user, request=request, step=step, method="recovery_code")
    raise MfaError(
        "That recovery code is not right or was already used. Each recovery code works once."
    )


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def regenerate_recovery_codes(
    *, user: Any, code: str, request: HttpRequest | None = None
) -> list[str]:
    """New recovery codes (the old ones stop working), after a fresh code. Raises ``MfaError``."""
    verify_second_factor(user=user, code=code, request=request, step="new recovery codes")
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        _record("mfa.recovery_codes_generated", user=user, request=request, count=len(codes))
    return codes


def remove_factor(*, user: Any, code: str, request: HttpRequest | None = None) -> None:
    """Remove the authenticator app and the recovery codes, after a fresh code."""
    method = verify_second_factor(user=user, code=code, request=request, step="removal")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        _record("mfa.removed", user=user, request=request, method="totp", confirmed_with=method)


def set_viewer_requirement(
    *, client: Client, required: bool, actor: Any, request: HttpRequest | None = None
) -> bool:
    """Require (or stop requiring) a second factor of the client's viewers. Answers whether
    anything changed; a change is audited and recorded in the client's evidence chain."""
    with transaction.atomic():
        changed = Client.objects.filter(pk=client.pk, require_mfa_for_viewers=not required).update(
            require_mfa_for_viewers=required
        )
        if not changed:
            return False
        client.require_mfa_for_viewers = required
        audit.record(
            "mfa.requirement_changed",
            actor=actor,
            client=client,
            request=request,
            target=client.slug,
            viewers_required=required,
        )
        with tenant_context(client):
            record_event(
                kind="security.mfa_requirement_changed",
                subject_type="client",
                subject_id=client.uuid,
                actor=actor,
                payload={"viewers_required": required, "was_required": not required},
            )
    return True


def reset_staff_factor(*, email: str) -> bool:
    """Remove the second factor of a member of MSP staff who lost both the authenticator and
    the recovery codes (they enrol again at their next sign-in). Client users' factors are
    theirs alone: refused with ``MfaError``. Answers whether there was a factor to remove."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise MfaError(f"No user with the e-mail address “{email}”.")
    if not (user.staff_role or user.is_superuser):
        raise MfaError(
            f"{user.email} is a client user: only they can change their second factor (with "
            "a recovery code), nobody at the MSP can."
        )
    with transaction.atomic():
        had = TOTPDevice.objects.filter(user=user).exists()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        if had:
            audit.record(
                "mfa.removed",
                actor_label="command:reset_second_factor",
                target=user.email,
                method="totp",
                confirmed_with="reset_second_factor command",
            )
    return had
