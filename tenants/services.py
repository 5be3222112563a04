"""Write-side use cases for clients, users and tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.models import Func
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from .choices import MembershipRole, TokenScope
from .models import RESERVED_SLUGS, ApiToken, Client, Domain, Membership, User, slug_validator
from .tiers import DEFAULT_PLAN, Plan

__all__ = [
    "schema_name_for",
    "validate_new_client",
    "create_client",
    "set_plan",
    "ensure_public_client",
    "ensure_template_schema",
    "issue_api_token",
    "revoke_api_token",
    "add_membership",
    "IssuedToken",
]


def schema_name_for(slug: str) -> str:
    return "c_" + slug.replace("-", "_")


def validate_new_client(*, slug: str, name: str, timezone_name: str) -> None:
    """Raise ValidationError (keyed by field) for a client that may not be created."""
    errors: dict[str, list[str]] = {}
    if slug in RESERVED_SLUGS or slug.replace("_", "-") in RESERVED_SLUGS:
        errors.setdefault("slug", []).append(f"“{slug}” is reserved; choose another slug.")
    else:
        try:
            slug_validator(slug)
        except ValidationError as exc:
            errors.setdefault("slug", []).extend(exc.messages)
    if "slug" not in errors and (
        Client.objects.filter(slug=slug).exists()
        or Domain.objects.filter(domain=slug).exists()
        or schema_exists(schema_name_for(slug))
    ):
        errors.setdefault("slug", []).append(f"A client with the slug “{slug}” already exists.")
    if not name.strip():
        errors.setdefault("name", []).append("A client needs a name.")
    try:
        Client._meta.get_field("timezone").run_validators(timezone_name)
    except ValidationError as exc:
        errors.setdefault("timezone", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)


def ensure_template_schema(verbosity: int = 0) -> None:
    """Create and migrate the template schema new clients are cloned from."""
    template = settings.TENANT_BASE_SCHEMA
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template}"')
    call_command("migrate_schemas", schema_name=template, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def ensure_public_client() -> Client:
    client, _ = Client.objects.get_or_create(
        schema_name="public", defaults={"slug": "public", "name": "MSP (public)"}
    )
    return client


def create_client(
    *,
    slug: str,
    name: str,
    timezone_name: str = "UTC",
    is_hipaa: bool = False,
    plan: str = DEFAULT_PLAN,
    locale: str = "",
) -> Client:
    """Create a client, its schema (cloned from the template) and its routing domain
    (``locale`` empty: the default, en-US)."""
    slug = slug.strip()
    validate_new_client(slug=slug, name=name, timezone_name=timezone_name)
    if not schema_exists(settings.TENANT_BASE_SCHEMA):
        ensure_template_schema()
    connection.set_schema_to_public()
    with transaction.atomic():
        client = Client(
            schema_name=schema_name_for(slug),
            slug=slug,
            name=name.strip(),
            timezone=timezone_name,
            is_hipaa=is_hipaa,
            plan=plan,
        )
        if locale:
            client.locale = locale
        client.full_clean()
        client.save(verbosity=0)
        Domain.objects.create(domain=slug, tenant=client, is_primary=True)
        _copy_storage_parameters(client)
        _fresh_public_ids(client)
    connection.set_schema_to_public()
    return client


def _copy_storage_parameters(client: Client) -> None:
    """The clone copies tables, not their storage parameters (``fillfactor``…): the client's
    tables get the template's, as a migration set them there."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND c.reloptions IS NOT NULL",
            [settings.TENANT_BASE_SCHEMA],
        )
        for table, options in cursor.fetchall():
            quoted = connection.ops.quote_name
            cursor.execute(
                f"ALTER TABLE {quoted(client.schema_name)}.{quoted(table)} "
                f"SET ({', '.join(options)})"
            )


def set_plan(*, client: Client, plan: str) -> str:
    """Move ``client`` to ``plan`` (a ``tenants.tiers.Plan`` value); returns the plan it had.
    An unknown plan is a ``ValidationError`` and changes nothing."""
    if plan not in Plan.values:
        raise ValidationError(
            {"plan": [f"Unknown plan “{plan}”; choose one of: {', '.join(Plan.values)}."]}
        )
    previous = client.plan
    if previous != plan:
        Client.objects.filter(pk=client.pk).update(plan=plan)
        client.plan = plan
    return previous


def _fresh_public_ids(client: Client) -> None:
    """The template's seeded rows (default rings, runbook checks) are cloned with their UUIDs;
    each client gets its own, so one public id names one object of one client."""
    with tenant_context(client):
        for config in apps.get_app_configs():
            if config.name not in settings.TENANT_APPS:
                continue
            for model in config.get_models():
                field = next((f for f in model._meta.concrete_fields if f.name == "uuid"), None)
                if isinstance(field, models.UUIDField) and model.objects.exists():
                    model.objects.update(
                        uuid=Func(function="gen_random_uuid", output_field=models.UUIDField())
                    )


def add_membership(*, user: User, client: Client, role: MembershipRole) -> Membership:
    if user.staff_role:
        raise ValidationError({"user": "MSP staff do not hold client memberships."})
    membership, _ = Membership.objects.update_or_create(
        user=user, client=client, defaults={"role": role}
    )
    return membership


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


_NAME_RE = re.compile(r"^[\w .:@/-]{1,100}$")


def issue_api_token(
    *,
    name: str,
    scope: TokenScope | str,
    client: Client | None,
    created_by: User | None = None,
) -> IssuedToken:
    """Create a token; the plaintext is returned once and never stored.

    People and commands go through ``accounts.tokens.create_token``, which records who did it."""
    errors: dict[str, str] = {}
    if not _NAME_RE.match(name or ""):
        errors["name"] = "A token name is 1–100 letters, digits, spaces or . : @ / - _"
    if scope not in TokenScope.values:
        errors["scope"] = f"Scope must be one of: {', '.join(TokenScope.values)}."
    if scope == TokenScope.AGENT and client is None:
        errors["client"] = "An agent token belongs to exactly one client: give --client."
    if client is not None and client.is_public:
        errors["client"] = "Tokens are scoped to a client or to all clients, not to public."
    if errors:
        raise ValidationError(errors)
    plaintext, key_id, key_hash = ApiToken.generate()
    token = ApiToken.objects.create(
        name=name,
        scope=scope,
        client=client,
        created_by=created_by,
        key_id=key_id,
        key_hash=key_hash,
    )
    return IssuedToken(token=token, plaintext=plaintext)


def revoke_api_token(*, token: ApiToken) -> bool:
    """Revoke once, for good; returns False when it was already revoked.

    People and commands go through ``accounts.tokens.revoke_token``, which records who did it."""
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
