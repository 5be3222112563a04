"""Evidence event kinds of people's accounts (see ``evidence.contract``).

A client user's passkeys are the keys their signatures are checked with: registering or
removing one is recorded in the chain of each client they belong to, with the SHA-256 of the
credential's public key (COSE bytes), so an auditor can tie a signature's key to the day its
owner registered it.
"""

from __future__ import annotations

from evidence.contract import STR, UUID, declare

_PASSKEY = {"user": STR, "passkey": UUID, "name": STR, "credential_id": STR}

declare(
    "passkey.registered",
    subject="user",
    label="Passkey registered",
    fields={**_PASSKEY, "public_key_sha256": STR},
)
declare("passkey.removed", subject="user", label="Passkey removed", fields=_PASSKEY)
