from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_ipv46_address

from accounts import lockout


class Command(BaseCommand):
    help = (
        "Lift a sign-in lockout: of an e-mail address (from every client address), of a client "
        "address (--ip, for every account), or of both together. Recorded in the audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", help="The e-mail address that is locked out")
        parser.add_argument("--ip", help="The client address that is locked out")

    def handle(self, *args, email=None, ip=None, **options):
        email = (email or "").strip().lower()
        ip = (ip or "").strip()
        if not email and not ip:
            raise CommandError("Give the e-mail address to unlock, or --ip with an address.")
        try:
            if email:
                validate_email(email)
            if ip:
                validate_ipv46_address(ip)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        still_locked = lockout.locked_addresses(email) if email and not ip else []
        cleared = lockout.unlock(username=email or None, ip_address=ip or None)
        who = " from ".join(part for part in (email, ip) if part)
        if not cleared:
            self.stdout.write(f"No failed sign-ins recorded for {who}: nothing to lift.")
        else:
            self.stdout.write(f"Lockout of {who} lifted ({cleared} record(s) cleared).")
        for address, failures in still_locked:
            self.stderr.write(
                f"The address {address} is still locked for every account ({failures} "
                f"failures of other accounts): lift it with --ip {address}."
            )
