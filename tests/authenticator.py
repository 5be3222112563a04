"""A software authenticator and an RFC 6238 code generator, written for the tests alone.

``SoftwareAuthenticator`` holds a P-256 key (``cryptography``) and answers the options the
portal gives to ``navigator.credentials.create()`` / ``.get()`` with the JSON a browser sends
(static/js/passkeys.js builds the same shape): attestation "none" for registration, an ES256
assertion over authenticatorData || SHA-256(clientDataJSON) for authentication. Its CBOR
encoder and its byte layouts follow the WebAuthn specification directly, sharing no code with
the portal's library. ``totp`` is RFC 6238 with hmac and hashlib.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise ValueError(value)


def cbor(value) -> bytes:
    """CBOR (RFC 8949) of ints, bytes, str, lists and dicts (keys in the order given)."""
    if isinstance(value, bool) or value is None:
        raise TypeError("not needed here")
    if isinstance(value, int):
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _cbor_head(3, len(raw)) + raw
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return _cbor_head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class SoftwareAuthenticator:
    def __init__(self, *, rp_id: str, origin: str, user_verified: bool = True) -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.user_verified = user_verified
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    @property
    def credential_id_b64(self) -> str:
        return b64url(self.credential_id)

    def cose_key(self) -> bytes:
        numbers = self.public_key.public_numbers()
        return cbor(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _flags(self, extra: int = 0) -> int:
        return FLAG_UP | (FLAG_UV if self.user_verified else 0) | extra

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode("utf-8")

    def create(self, options: dict) -> dict:
        """The registration response to navigator.credentials.create() options."""
        assert options["rp"]["id"] == self.rp_id
        assert any(p["alg"] == -7 for p in options["pubKeyCredParams"])
        client_data = self._client_data("webauthn.create", options["challenge"])
        attested = (
            bytes(16)  # AAGUID: none
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_key()
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags(FLAG_AT)])
            + struct.pack(">I", self.sign_count)
            + attested
        )
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": self.credential_id_b64,
            "rawId": self.credential_id_b64,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, *, challenge: str | None = None) -> dict:
        """The assertion navigator.credentials.get() returns for these options."""
        allowed = [c["id"] for c in options.get("allowCredentials") or []]
        assert not allowed or self.credential_id_b64 in allowed, "not an allowed credential"
        assert options.get("rpId", self.rp_id) == self.rp_id
        self.sign_count += 1
        client_data = self._client_data("webauthn.get", challenge or options["challenge"])
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", self.sign_count)
        )
        signature = self.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": self.credential_id_b64,
            "rawId": self.credential_id_b64,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": None,
            },
            "clientExtensionResults": {},
        }

    def verify(self, *, authenticator_data: bytes, client_data_json: bytes, signature: bytes):
        """Raises InvalidSignature unless this key made ``signature`` over these bytes."""
        self.public_key.verify(
            signature,
            authenticator_data + hashlib.sha256(client_data_json).digest(),
            ec.ECDSA(hashes.SHA256()),
        )


def totp(key: bytes, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 (HMAC-SHA-1, RFC 4226 dynamic truncation)."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


def post_json(http, url: str, body: dict | None = None):
    return http.post(url, json.dumps(body or {}), content_type="application/json")


def register_over_http(http, *, name: str = "Work laptop", device=None) -> SoftwareAuthenticator:
    """Register a passkey for the signed-in user of ``http`` as the passkeys page's script does:
    options from the portal, the authenticator's response back."""
    from django.conf import settings

    device = device or SoftwareAuthenticator(
        rp_id=settings.WEBAUTHN_RP_ID, origin=settings.WEBAUTHN_ORIGIN[0]
    )
    options = post_json(http, "/accounts/passkeys/register/options/").json()
    response = post_json(
        http,
        "/accounts/passkeys/register/",
        {"name": name, "credential": device.create(options)},
    )
    assert response.status_code == 201, response.content
    return device
