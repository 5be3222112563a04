"""Evidence event kinds for a client's API tokens (see ``evidence.contract``)."""

from __future__ import annotations

from evidence.contract import STR, UUID, declare

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
