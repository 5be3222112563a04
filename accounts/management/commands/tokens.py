from datetime import UTC

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.tokens import create_token, find_token, revoke_token, tokens_of
from tenants.choices import TokenScope
from tenants.management.commands.create_client import format_validation_error
from tenants.models import Client

from ._tokens import acting


def _client(slug: str) -> Client:
    client = Client.objects.exclude(schema_name="public").filter(slug=slug).first()
    if client is None:
        raise CommandError(f"No client with the slug “{slug}”.")
    return client


def _when(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


class Command(BaseCommand):
    help = (
        "API tokens: create (printed once), list (with their last use) and revoke (for good). "
        "Each creation and revocation is recorded in the audit log, and a client's token in "
        "that client's evidence chain. See `tokens <action> --help`."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", metavar="create|list|revoke")
        actions.required = True

        create = actions.add_parser("create", help="Issue a token and print it once")
        create.add_argument("--name", required=True, help="What uses the token, e.g. psa-prod")
        target = create.add_mutually_exclusive_group(required=True)
        target.add_argument("--client", metavar="SLUG", help="Scope the token to one client")
        target.add_argument("--all", action="store_true", help="Valid for every client")
        create.add_argument("--scope", required=True, choices=TokenScope.values)
        create.add_argument("--by", metavar="EMAIL", help="The MSP admin issuing it (its owner)")

        listing = actions.add_parser("list", help="List tokens with their last use")
        listing.add_argument("--client", metavar="SLUG", help="Only this client's tokens")
        listing.add_argument("--active", action="store_true", help="Leave out revoked tokens")

        revoke = actions.add_parser("revoke", help="Revoke a token for good")
        revoke.add_argument("token", help="The token's key id (po_<key id>_…) or its id")
        revoke.add_argument("--by", metavar="EMAIL", help="The MSP admin revoking it")

    def handle(self, *args, action, **options):
        return getattr(self, f"_{action}")(**options)

    def _create(self, *, name, client, all, scope, by=None, **options):
        target = _client(client) if client else None
        actor, label = acting(by)
        try:
            issued = create_token(
                name=name, scope=scope, client=target, actor=actor, actor_label=label
            )
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from exc
        where = f"client {target.slug}" if target else "all clients"
        self.stderr.write(f"Token “{name}” ({scope}, {where}). Shown once; store it now:")
        self.stdout.write(issued.plaintext)

    def _list(self, *, client=None, active=False, **options):
        tokens = list(tokens_of(_client(client) if client else None, include_revoked=not active))
        if not tokens:
            self.stdout.write("No tokens.")
            return
        header = ("key id", "name", "scope", "client", "owner", "created", "last used", "revoked")
        rows = [
            (
                t.key_id,
                t.name,
                t.scope,
                t.client.slug if t.client else "(all clients)",
                t.created_by.email if t.created_by else "-",
                _when(t.created_at),
                _when(t.last_used_at),
                _when(t.revoked_at),
            )
            for t in tokens
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [str(v).ljust(w) for v, w in zip(row, widths, strict=True)]
            self.stdout.write("  ".join(cells).rstrip())

    def _revoke(self, *, token, by=None, **options):
        found = find_token(token)
        if found is None:
            raise CommandError(f"No token with the key id or id “{token}”.")
        actor, label = acting(by)
        if not revoke_token(token=found, actor=actor, actor_label=label):
            raise CommandError(
                f"Token “{found.name}” ({found.key_id}) was already revoked on "
                f"{_when(found.revoked_at)}; nothing changed."
            )
        self.stdout.write(f"Token “{found.name}” ({found.key_id}) revoked.")
