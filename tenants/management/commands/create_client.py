from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import create_client
from tenants.tiers import DEFAULT_PLAN, Plan


def format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create an MSP client: its own PostgreSQL schema (cloned from the template) and URL."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name, e.g. riverside-clinic (/clients/<slug>/)")
        parser.add_argument("--name", required=True, help='Display name, e.g. "Riverside Clinic"')
        parser.add_argument(
            "--timezone", default="UTC", help="IANA time zone of the client (default UTC)"
        )
        parser.add_argument(
            "--locale",
            default="",
            help="Language and country, e.g. en-US or de-DE (default en-US); reports are printed "
            "on Letter paper where that is the norm, on A4 elsewhere",
        )
        parser.add_argument(
            "--hipaa", action="store_true", help="The client is HIPAA regulated (handles ePHI)"
        )
        parser.add_argument(
            "--plan",
            default=DEFAULT_PLAN,
            help=f"Service plan: {', '.join(Plan.values)} (default {DEFAULT_PLAN})",
        )

    def handle(self, *args, slug, name, timezone, hipaa, locale, plan, **options):
        try:
            client = create_client(
                slug=slug,
                name=name,
                timezone_name=timezone,
                is_hipaa=hipaa,
                locale=locale,
                plan=plan,
            )
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Created client {client.name} ({client.slug}) in schema {client.schema_name}; "
                f"pages at /clients/{client.slug}/"
            )
        )
