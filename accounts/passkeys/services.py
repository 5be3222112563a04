"""Passkeys (WebAuthn) through py_webauthn: registering a person's authenticators, naming and
removing them, and checking an assertion one of them made over a challenge.

The portal keeps only each credential's public key (COSE) and its signature counter; every
check of a response (origin, RP ID hash, challenge, flags, signature) is the library's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_tenants.utils import tenant_context
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts import audit
from accounts.models import Passkey
from evidence.services import record_event
from tenants.models import Client, User

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AssertionResult",
    "registration_options",
    "complete_registration",
    "rename_passkey",
    "remove_passkey",
    "assertion_options",
    "verify_assertion",
    "parse_credential",
]

# What the offline verifier of the evidence bundle checks too: ES256, EdDSA (Ed25519), RS256.
SUPPORTED_ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
NAME_MAX_LENGTH = 100
TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class AssertionResult:
    """A verified assertion: which passkey made it and the exact bytes it signed."""

    passkey: Passkey
    credential_id: str
    public_key: bytes
    authenticator_data: bytes
    client_data_json: bytes
    signature: bytes
    user_verified: bool


def _rp_id() -> str:
    return settings.WEBAUTHN_RP_ID


def _origins() -> list[str]:
    origins = settings.WEBAUTHN_ORIGIN
    return [origins] if isinstance(origins, str) else list(origins)


def client_of(user: User) -> Client | None:
    """The client a client user belongs to (for the audit row), when exactly one."""
    if getattr(user, "staff_role", ""):
        return None
    clients = [m.client for m in user.memberships.select_related("client")[:2]]
    return clients[0] if len(clients) == 1 else None


def _record_in_clients(user: User, *, kind: str, passkey: Passkey, **extra: Any) -> None:
    """The event in the chain of every client the user belongs to (MSP staff: none)."""
    payload = {
        "user": user.email,
        "passkey": str(passkey.uuid),
        "name": passkey.name,
        "credential_id": passkey.credential_id,
        **extra,
    }
    for membership in user.memberships.select_related("client").order_by("client__slug"):
        with tenant_context(membership.client):
            record_event(
                kind=kind, subject_type="user", subject_id=user.uuid, actor=user, payload=payload
            )


def parse_credential(raw: Any) -> dict[str, Any]:
    """The PublicKeyCredential JSON the browser sent (a dict or its JSON text)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValidationError("The passkey response is not valid JSON.") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("response"), dict):
        raise ValidationError("The passkey response is missing or malformed.")
    return raw


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": ["Give the passkey a name (e.g. “Work laptop”)."]})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": [f"At most {NAME_MAX_LENGTH} characters."]})
    return name


def registration_options(*, user: User) -> tuple[dict[str, Any], bytes]:
    """Options for navigator.credentials.create() and the random challenge they carry (the
    caller keeps it, e.g. in the session, to check the response against)."""
    options = generate_registration_options(
        rp_id=_rp_id(),
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_name=user.email,
        user_id=user.uuid.bytes,
        user_display_name=user.get_full_name() or user.email,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in user.passkeys.all()
        ],
        supported_pub_key_algs=SUPPORTED_ALGORITHMS,
    )
    return json.loads(options_to_json(options)), options.challenge


def complete_registration(
    *,
    user: User,
    credential: Any,
    challenge: bytes | None,
    name: str,
    request: HttpRequest | None = None,
) -> Passkey:
    """Check the authenticator's attestation response and keep its public key."""
    name = _clean_name(name)
    if not challenge:
        raise ValidationError("Start again: the passkey request expired or was already used.")
    credential = parse_credential(credential)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(),
            expected_origin=_origins(),
            require_user_verification=True,
            supported_pub_key_algs=SUPPORTED_ALGORITHMS,
        )
    except WebAuthnException as exc:
        raise ValidationError(f"The passkey could not be registered: {exc}") from exc
    transports = credential["response"].get("transports") or []
    if not isinstance(transports, list):
        transports = []
    now = timezone.now()
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user=user,
                name=name,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                aaguid=str(verified.aaguid or "")[:36],
                transports=[str(t)[:20] for t in transports[:10]],
                created_at=now,
            )
            audit.record(
                "mfa.enrolled",
                actor=user,
                client=client_of(user),
                request=request,
                target=user.email,
                method="passkey",
                passkey=str(passkey.uuid),
                name=name,
            )
            _record_in_clients(
                user,
                kind="passkey.registered",
                passkey=passkey,
                public_key_sha256=hashlib.sha256(verified.credential_public_key).hexdigest(),
            )
    except IntegrityError as exc:
        raise ValidationError("This passkey is already registered.") from exc
    return passkey


def rename_passkey(
    *, user: User, passkey: Passkey, name: str, request: HttpRequest | None = None
) -> Passkey:
    if passkey.user_id != user.pk:
        raise ValidationError("That passkey is not yours.")
    passkey.name = _clean_name(name)
    passkey.save(update_fields=["name"])
    return passkey


def remove_passkey(*, user: User, passkey: Passkey, request: HttpRequest | None = None) -> None:
    if passkey.user_id != user.pk:
        raise ValidationError("That passkey is not yours.")
    with transaction.atomic():
        deleted, _ = Passkey.objects.filter(pk=passkey.pk, user=user).delete()
        if deleted:
            audit.record(
                "mfa.removed",
                actor=user,
                client=client_of(user),
                request=request,
                target=user.email,
                method="passkey",
                passkey=str(passkey.uuid),
                name=passkey.name,
            )
            _record_in_clients(user, kind="passkey.removed", passkey=passkey)


def assertion_options(*, user: User, challenge: bytes) -> dict[str, Any]:
    """Options for navigator.credentials.get() over ``challenge``, limited to the user's own
    passkeys, with user verification required."""
    options = generate_authentication_options(
        rp_id=_rp_id(),
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in user.passkeys.all()
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options))


def verify_assertion(*, user: User, credential: Any, challenge: bytes) -> AssertionResult:
    """Check that one of ``user``'s passkeys signed ``challenge`` here, with the person verified;
    advance its counter. Raises ValidationError naming what is wrong."""
    credential = parse_credential(credential)
    with transaction.atomic():
        return _verify_assertion(user=user, credential=credential, challenge=challenge)


def _verify_assertion(
    *, user: User, credential: dict[str, Any], challenge: bytes
) -> AssertionResult:
    credential_id = credential.get("rawId") or credential.get("id")
    if not isinstance(credential_id, str) or not credential_id:
        raise ValidationError("The passkey response names no credential.")
    passkey = (
        Passkey.objects.select_for_update().filter(user=user, credential_id=credential_id).first()
    )
    if passkey is None:
        raise ValidationError("This passkey is not registered to your account.")
    public_key = bytes(passkey.public_key)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(),
            expected_origin=_origins(),
            credential_public_key=public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise ValidationError(f"The passkey response was refused: {exc}") from exc
    response = credential["response"]
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = timezone.now()
    passkey.save(update_fields=["sign_count", "last_used_at"])
    return AssertionResult(
        passkey=passkey,
        credential_id=passkey.credential_id,
        public_key=public_key,
        authenticator_data=base64url_to_bytes(response["authenticatorData"]),
        client_data_json=base64url_to_bytes(response["clientDataJSON"]),
        signature=base64url_to_bytes(response["signature"]),
        user_verified=verified.user_verified,
    )
