from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.tokens import create_token
from tenants.choices import TokenScope
from tenants.management.commands.create_client import format_validation_error
from tenants.models import Client

from ._tokens import acting


class Command(BaseCommand):
    help = (
        "Create an API token for an integration and print it once. Only its hash is stored: "
        "keep the printed value. Recorded in the audit log (and the client's evidence chain)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What uses the token, e.g. psa-prod")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--client", metavar="SLUG", help="Scope the token to one client")
        target.add_argument("--all", action="store_true", help="Valid for every client")
        parser.add_argument(
            "--scope",
            required=True,
            choices=TokenScope.values,
            help="read: read only; write: read and write; agent: push discovery for one client",
        )
        parser.add_argument(
            "--by", metavar="EMAIL", help="The MSP admin issuing it (recorded as its owner)"
        )

    def handle(self, *args, name, client, all, scope, by=None, **options):
        target = None
        if client:
            target = Client.objects.exclude(schema_name="public").filter(slug=client).first()
            if target is None:
                raise CommandError(f"No client with the slug “{client}”.")
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
