from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tenants.services import ensure_public_client, ensure_template_schema

# django-tenants' executors that need nothing more than the settings (the subprocess one
# starts manage.py per schema and is not offered).
EXECUTORS = ("standard", "multiprocessing")


class Command(BaseCommand):
    help = (
        "Migrate the public schema, the client template schema and every client schema, and make "
        "sure the public tenant row exists. Safe to run on every start."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--executor",
            default=None,
            help=(
                "how the client schemas are migrated: standard (one after another) or "
                "multiprocessing (TENANT_MULTIPROCESSING_MAX_PROCESSES at a time); default "
                "TENANT_MIGRATION_EXECUTOR"
            ),
        )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        executor = options["executor"] or settings.TENANT_MIGRATION_EXECUTOR
        if executor not in EXECUTORS:
            raise CommandError(
                f"Unknown migration executor {executor!r}; use one of: {', '.join(EXECUTORS)}."
            )
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        ensure_public_client()
        ensure_template_schema(verbosity=verbosity)
        call_command(
            "migrate_schemas",
            tenant=True,
            interactive=False,
            verbosity=verbosity,
            executor=executor,
        )
        self.stdout.write(self.style.SUCCESS("Schemas are up to date."))
