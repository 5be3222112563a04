"""The second factor an owner gives at the moment of signing an exception.

Two methods, strongest first:

* ``passkey``: the owner's authenticator signs an assertion whose challenge is the SHA-256 of
  the exact text shown (so the signature is over that text); the assertion (authenticatorData,
  clientDataJSON, signature), the credential's ID and public key are kept with the signature
  record, and anyone can check it offline with the evidence bundle's verifier.
* ``totp``: a current code from the owner's confirmed authenticator app (django-otp's
  ``TOTPDevice.verify_token``, which also refuses a code used before). Weaker: it proves the
  owner held the app's secret then, but nothing an auditor can check afterwards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.passkeys import services as passkeys

from .choices import SignatureMethod

__all__ = [
    "SigningFactor",
    "FactorProof",
    "FactorRefused",
    "challenge_for",
    "available_methods",
    "passkey_options",
    "verify_factor",
]


class FactorRefused(ValidationError):
    """The second factor was missing or did not verify."""


@dataclass(frozen=True)
class SigningFactor:
    """What the owner gave: a passkey assertion (the PublicKeyCredential JSON of
    navigator.credentials.get) or a TOTP code."""

    method: str
    assertion: Any = None
    code: str = ""


@dataclass(frozen=True)
class FactorProof:
    """A verified factor, as the signature record keeps it."""

    method: str
    credential_id: str = ""
    public_key: bytes = b""
    authenticator_data: bytes = b""
    client_data_json: bytes = b""
    signature: bytes = b""
    rp_id: str = ""
    passkey_name: str = ""

    def record_fields(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "credential_id": self.credential_id,
            "credential_public_key": self.public_key,
            "authenticator_data": self.authenticator_data,
            "client_data_json": self.client_data_json,
            "assertion_signature": self.signature,
            "rp_id": self.rp_id,
        }


def challenge_for(text: str) -> bytes:
    """The WebAuthn challenge of a signature: SHA-256 of the exact signed text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def _totp_devices(user: Any):
    return TOTPDevice.objects.devices_for_user(user, confirmed=True)


def available_methods(user: Any) -> list[str]:
    """The methods this user can sign with now (passkey first)."""
    methods = []
    if user.passkeys.exists():
        methods.append(SignatureMethod.PASSKEY.value)
    if _totp_devices(user).exists():
        methods.append(SignatureMethod.TOTP.value)
    return methods


def passkey_options(*, user: Any, text: str) -> dict[str, Any]:
    """navigator.credentials.get() options whose challenge is SHA-256(text)."""
    return passkeys.assertion_options(user=user, challenge=challenge_for(text))


def verify_factor(*, user: Any, text: str, factor: SigningFactor | None) -> FactorProof:
    """Check the factor against ``text`` (the text being signed, as stored now); raise
    FactorRefused with a message for the owner when it is missing or wrong."""
    if factor is None or factor.method not in (
        SignatureMethod.PASSKEY,
        SignatureMethod.TOTP,
    ):
        raise FactorRefused(
            {
                "factor": [
                    "Signing needs your second factor now: your passkey, or a code from your "
                    "authenticator app."
                ]
            }
        )
    if factor.method == SignatureMethod.PASSKEY:
        if not factor.assertion:
            raise FactorRefused({"factor": ["Use your passkey to sign (nothing was received)."]})
        try:
            result = passkeys.verify_assertion(
                user=user, credential=factor.assertion, challenge=challenge_for(text)
            )
        except ValidationError as error:
            raise FactorRefused({"factor": error.messages}) from error
        if not result.user_verified:
            raise FactorRefused({"factor": ["Your passkey did not verify you (PIN or biometric)."]})
        return FactorProof(
            method=SignatureMethod.PASSKEY,
            credential_id=result.credential_id,
            public_key=result.public_key,
            authenticator_data=result.authenticator_data,
            client_data_json=result.client_data_json,
            signature=result.signature,
            rp_id=settings.WEBAUTHN_RP_ID,
            passkey_name=result.passkey.name,
        )
    code = "".join((factor.code or "").split())
    if not code.isdigit() or not 6 <= len(code) <= 8:
        raise FactorRefused({"totp_code": ["Enter the 6-digit code from your authenticator app."]})
    devices = list(_totp_devices(user))
    if not devices:
        raise FactorRefused({"totp_code": ["You have no authenticator app set up."]})
    if not any(device.verify_token(code) for device in devices):
        raise FactorRefused({"totp_code": ["The code is not correct, or it was already used."]})
    return FactorProof(method=SignatureMethod.TOTP)
