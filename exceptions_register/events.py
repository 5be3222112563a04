"""Event kinds of the exception register (see ``evidence.contract``).

Every payload carries the exception's identity (``uuid``, ``version``, ``kind``,
``ticket_reference``, ``expires_at``); signing names the findings it excepted, ending names the
findings it re-opened.
"""

from __future__ import annotations

from typing import Any

from evidence.contract import (
    BOOL,
    DATETIME,
    INT,
    STR,
    UUID,
    Stage,
    declare,
    list_of,
    nullable,
    optional,
)

_IDENTITY = {
    "uuid": UUID,
    "version": INT,
    "kind": STR,
    "ticket_reference": STR,
    "expires_at": DATETIME,
}
_SIGNATURE = {
    "text_sha256": STR,
    "ip_address": nullable(STR),
    "user_agent": STR,
    # How the signer proved it was them (absent in events recorded before second factors):
    # passkey (then the credential and the SHA-256 of its assertion), totp, or password.
    "method": optional(STR),
    "credential_id": optional(STR),
    "assertion_sha256": optional(STR),
    "public_key_sha256": optional(STR),
}


def _label(p: dict[str, Any]) -> str:
    return f"{p['kind'].replace('_', ' ')} {p['ticket_reference']} v{p['version']}"


declare(
    "exception.requested",
    subject="exception",
    label="Exception requested",
    fields={
        **_IDENTITY,
        "approver": STR,
        "supersedes": optional(nullable(UUID)),
        "edited": optional(BOOL),
        "text_sha256_before": optional(STR),
    },
)
declare(
    "exception.duplicate_merged",
    subject="exception",
    label="Duplicate request merged",
    fields={**_IDENTITY, "requested_by": STR},
    summary=lambda p: (
        f"{p['requested_by']} asked again for ticket {p['ticket_reference']} with the same scope: "
        "merged into this exception"
    ),
)
declare(
    "exception.submitted",
    subject="exception",
    label="Exception submitted for sign-off",
    fields={**_IDENTITY, "text_sha256": STR},
)
declare(
    "exception.renewed",
    subject="exception",
    label="Exception renewal requested",
    fields={**_IDENTITY, "successor": UUID, "renewal": BOOL, "new_expiry": DATETIME},
)
declare(
    "exception.signed",
    subject="exception",
    stage=Stage.EXCEPTION,
    label="Exception signed",
    fields={**_IDENTITY, **_SIGNATURE, "starts_at": DATETIME, "findings_excepted": list_of(UUID)},
    findings_field="findings_excepted",
    summary=lambda p: f"Excepted by the signed {_label(p)}",
)
declare(
    "exception.expiring",
    subject="exception",
    label="Exception expiry reminder sent",
    fields={**_IDENTITY, "days_before": INT},
    summary=lambda p: f"{_label(p)} expires in {p['days_before']} day(s) or less",
)
declare(
    "exception.rejected",
    subject="exception",
    label="Exception rejected",
    fields={**_IDENTITY, **_SIGNATURE, "reason": STR},
)
for _kind, _label_text, _verb in (
    ("exception.revoked", "Exception revoked", "revoked"),
    ("exception.expired", "Exception expired", "expired"),
):
    declare(
        _kind,
        subject="exception",
        stage=Stage.EXCEPTION,
        label=_label_text,
        fields={
            **_IDENTITY,
            "previous_state": STR,
            "reason": STR,
            "findings_reopened": list_of(UUID),
        },
        findings_field="findings_reopened",
        summary=lambda p, verb=_verb: f"Open again: {_label(p)} {verb}",
    )
