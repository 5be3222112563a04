from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenants.services import ensure_public_client, ensure_template_schema


class Command(BaseCommand):
    help = (
        "Migrate the public schema, the client template schema and every client schema, and make "
        "sure the public tenant row exists. Safe to run on every start."
    )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        ensure_public_client()
        ensure_template_schema(verbosity=verbosity)
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
        self.stdout.write(self.style.SUCCESS("Schemas are up to date."))
