"""API tokens' life, as people and commands go through it: issued, listed with their last use,
revoked. Each step is a row of the audit log naming who did it and, for a client's token, an
event in that client's evidence chain.

The token itself (``tenants.models.ApiToken``) refuses any later change of its client, scope,
owner or key and any un-revocation (model, queryset and database trigger).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django_tenants.utils import tenant_context

from evidence.services import record_event
from tenants.choices import TokenScope
from tenants.models import ApiToken, Client, User
from tenants.services import IssuedToken, issue_api_token, revoke_api_token

from . import audit

__all__ = ["create_token", "revoke_token", "tokens_of", "find_token"]


def _person(actor: Any) -> User | None:
    return actor if isinstance(actor, User) and actor.pk is not None else None


def _by(actor: Any, actor_label: str) -> str:
    person = _person(actor)
    return person.email if person else (actor_label or "system")


def _client_event(kind: str, token: ApiToken, by: str, actor: Any) -> None:
    if token.client is None:
        return
    with tenant_context(token.client):
        record_event(
            kind=kind,
            subject_type="api_token",
            subject_id=token.uuid,
            actor=_person(actor) or by,
            payload={
                "token": str(token.uuid),
                "name": token.name,
                "scope": token.scope,
                "key_id": token.key_id,
                "by": by,
            },
        )


def create_token(
    *,
    name: str,
    scope: TokenScope | str,
    client: Client | None,
    actor: Any = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
) -> IssuedToken:
    """Issue a token (its plaintext is returned once); ``actor`` is the person issuing it
    (its owner), or None with ``actor_label`` naming the command that did."""
    with transaction.atomic():
        issued = issue_api_token(name=name, scope=scope, client=client, created_by=_person(actor))
        token = issued.token
        by = _by(actor, actor_label)
        audit.record(
            "token.created",
            actor=_person(actor),
            actor_label=by,
            client=client,
            request=request,
            target=f"{token.name} ({token.key_id})",
            token=str(token.uuid),
            scope=token.scope,
            all_clients=client is None,
        )
        _client_event("api_token.created", token, by, actor)
    return issued


def revoke_token(
    *,
    token: ApiToken,
    actor: Any = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
) -> bool:
    """Revoke once, for good; False (nothing recorded) when it was already revoked."""
    with transaction.atomic():
        if not revoke_api_token(token=token):
            return False
        token.refresh_from_db(fields=["revoked_at"])
        by = _by(actor, actor_label)
        audit.record(
            "token.revoked",
            actor=_person(actor),
            actor_label=by,
            client=token.client,
            request=request,
            target=f"{token.name} ({token.key_id})",
            token=str(token.uuid),
            scope=token.scope,
        )
        _client_event("api_token.revoked", token, by, actor)
    return True


def tokens_of(client: Client | None = None, *, include_revoked: bool = True) -> QuerySet:
    """A client's tokens, or with no client every token (MSP-wide ones included), newest first,
    with their owner and client."""
    tokens = ApiToken.objects.select_related("client", "created_by").order_by("-created_at")
    if client is not None:
        tokens = tokens.filter(client=client)
    if not include_revoked:
        tokens = tokens.active()
    return tokens


def find_token(reference: str) -> ApiToken | None:
    """A token by its key id (the ``po_<key id>_…`` part) or its UUID."""
    reference = (reference or "").strip()
    if reference.startswith("po_"):
        reference = reference.split("_", 2)[1] if reference.count("_") >= 1 else reference
    tokens = ApiToken.objects.select_related("client", "created_by")
    token = tokens.filter(key_id=reference).first() if reference else None
    if token is None:
        try:
            token = tokens.filter(uuid=uuid.UUID(reference)).first()
        except ValueError:
            return None
    return token
