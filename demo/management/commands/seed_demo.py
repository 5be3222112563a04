from django.conf import settings
from django.core.management.base import BaseCommand

from demo import msp as demo


class Command(BaseCommand):
    help = (
        "Seed the demo MSP: clients with realistic names and time zones, staff of every role and "
        "one owner and one viewer per client. Idempotent: existing clients and users are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-data",
            action="store_true",
            help="Only clients and users; no demo inventory, findings or rollouts",
        )

    def handle(self, *args, no_data, **options):
        logins = demo.seed(with_data=not no_data)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo MSP ready. Logins (password: {settings.PATCHOPS_DEMO_PASSWORD}):"
            )
        )
        for login in logins:
            suffix = f" – {login.client}" if login.client else ""
            self.stdout.write(f"  {login.email:<36} {login.role}{suffix}")
        self.stdout.write(
            "Staff and client owners add an authenticator app (TOTP) at their first sign-in."
        )
