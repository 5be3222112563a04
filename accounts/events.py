"""Event kinds the accounts app records in a client's evidence chain (see ``evidence.contract``)."""

from __future__ import annotations

from evidence.contract import BOOL, declare

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
