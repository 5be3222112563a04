from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import people
from tenants.management.commands.create_client import format_validation_error
from tenants.models import User


class Command(BaseCommand):
    help = (
        "Deactivate a user (offboarding): the account can no longer sign in, every live session "
        "ends and every API token the user created is revoked, at once. Recorded in the audit "
        "log and in the evidence log of each client the user belongs to."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The user's e-mail address")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with the address “{email}”.")
        try:
            sent = people.deactivate_user(
                user=user,
                actor="manage.py deactivate_user",
                actor_label="manage.py deactivate_user",
            )
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from exc
        self.stdout.write(
            f"Deactivated {user.email}: {sent.detail['sessions_ended']} session(s) ended, "
            f"{sent.detail['tokens_revoked']} API token(s) revoked."
        )
