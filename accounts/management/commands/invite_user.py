from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import people
from tenants.choices import MembershipRole, StaffRole
from tenants.management.commands.create_client import format_validation_error
from tenants.models import Client, User

ROLES = {"owner": MembershipRole.CLIENT_OWNER, "viewer": MembershipRole.CLIENT_VIEWER}


class Command(BaseCommand):
    help = (
        "Invite an e-mail address to a client as owner or viewer. The link (single use, valid "
        "for INVITATION_MAX_AGE_HOURS) is mailed to the address only, never printed; the invitee "
        "chooses their own password. Recorded in the client's evidence log and the audit log; "
        "the client's owners are told."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The invitee's e-mail address")
        parser.add_argument("--client", required=True, metavar="SLUG", help="The client's slug")
        parser.add_argument("--role", required=True, choices=sorted(ROLES), help="owner or viewer")
        parser.add_argument(
            "--by",
            metavar="EMAIL",
            help="The MSP admin the invitation is sent on behalf of (default: the command line)",
        )

    def handle(self, *args, email, client, role, by, **options):
        target = Client.objects.exclude(schema_name="public").filter(slug=client).first()
        if target is None:
            raise CommandError(f"No client with the slug “{client}”.")
        actor = "manage.py invite_user"
        if by:
            actor = User.objects.filter(
                email__iexact=by, is_active=True, staff_role=StaffRole.MSP_ADMIN
            ).first()
            if actor is None:
                raise CommandError(f"--by: no active MSP admin with the address “{by}”.")
        try:
            sent = people.invite(client=target, email=email, role=ROLES[role], actor=actor)
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from exc
        invitation = sent.obj
        self.stdout.write(
            f"Invited {invitation.email} to {target.slug} as {role}; the link was mailed and "
            f"works once until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        )
        if sent.mail_failed:
            raise CommandError(
                "The invitation is recorded but its e-mail could not be sent: withdraw it on "
                "the People page and invite again."
            )
