"""Event kinds of a client's people, recorded in that client's evidence chain
(see ``evidence.contract``): who was invited, joined, changed role, left or was deactivated."""

from __future__ import annotations

from evidence.contract import BOOL, DATETIME, INT, STR, UUID, declare

declare(
    "person.invited",
    subject="invitation",
    label="Person invited",
    fields={"email": STR, "role": STR, "expires_at": DATETIME},
    summary=lambda p: f"{p['email']} invited as {p['role']} (link valid until {p['expires_at']})",
)
declare(
    "person.invitation_withdrawn",
    subject="invitation",
    label="Invitation withdrawn",
    fields={"email": STR, "role": STR},
    summary=lambda p: f"invitation of {p['email']} as {p['role']} withdrawn",
)
declare(
    "person.joined",
    subject="user",
    label="Person joined",
    fields={"email": STR, "role": STR, "invitation": UUID, "new_account": BOOL},
    summary=lambda p: f"{p['email']} accepted the invitation and joined as {p['role']}",
)
declare(
    "person.role_changed",
    subject="user",
    label="Person's role changed",
    fields={"email": STR, "old_role": STR, "new_role": STR},
    summary=lambda p: f"{p['email']}: {p['old_role']} → {p['new_role']}",
)
declare(
    "person.removed",
    subject="user",
    label="Person removed",
    fields={"email": STR, "role": STR},
    summary=lambda p: f"{p['email']} ({p['role']}) removed from the client",
)
declare(
    "person.deactivated",
    subject="user",
    label="Person deactivated",
    fields={"email": STR, "role": STR, "sessions_ended": INT, "tokens_revoked": INT},
    summary=lambda p: (
        f"{p['email']} ({p['role']}) deactivated: {p['sessions_ended']} session(s) ended, "
        f"{p['tokens_revoked']} token(s) revoked"
    ),
)
declare(
    "person.account_manager_assigned",
    subject="user",
    label="Account manager assigned",
    fields={"email": STR},
    summary=lambda p: f"{p['email']} now manages the client (account manager)",
)
declare(
    "person.account_manager_unassigned",
    subject="user",
    label="Account manager unassigned",
    fields={"email": STR},
    summary=lambda p: f"{p['email']} no longer manages the client",
)

declare(
    "security.mfa_requirement_changed",
    subject="client",
    label="Second-factor requirement for viewers changed",
    fields={"viewers_required": BOOL, "was_required": BOOL},
    summary=lambda p: (
        "Client viewers must now sign in with a second factor"
        if p["viewers_required"]
        else "Client viewers may sign in without a second factor"
    ),
)

for _kind, _label in (
    ("api_token.created", "API token created"),
    ("api_token.revoked", "API token revoked"),
):
    declare(
        _kind,
        subject="api_token",
        label=_label,
        fields={"token": UUID, "name": STR, "scope": STR, "key_id": STR, "by": STR},
    )

_PASSKEY = {"user": STR, "passkey": UUID, "name": STR, "credential_id": STR}

declare(
    "passkey.registered",
    subject="user",
    label="Passkey registered",
    fields={**_PASSKEY, "public_key_sha256": STR},
)
declare("passkey.removed", subject="user", label="Passkey removed", fields=_PASSKEY)
