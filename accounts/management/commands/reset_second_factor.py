from django.core.management.base import BaseCommand, CommandError

from accounts.mfa.services import MfaError, reset_staff_factor


class Command(BaseCommand):
    help = (
        "Remove the second factor (authenticator app and recovery codes) of a member of MSP "
        "staff who lost both; they add a new one at their next sign-in. Client users' factors "
        "cannot be reset. Recorded in the audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The staff member's e-mail address")

    def handle(self, *args, email, **options):
        try:
            removed = reset_staff_factor(email=email)
        except MfaError as exc:
            raise CommandError(exc.message) from exc
        if removed:
            self.stdout.write(f"Second factor of {email} removed; they enrol at next sign-in.")
        else:
            self.stdout.write(f"{email} had no second factor; nothing changed.")
