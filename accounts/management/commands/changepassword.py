from django.contrib.auth.management.commands import changepassword
from django.core.management.base import CommandError

from tenants.models import User


class Command(changepassword.Command):
    help = (
        "Change an MSP staff member's password. A client user's password is theirs alone: they "
        "reset it by e-mail (/accounts/password/reset/), so it is refused here."
    )

    def handle(self, *args, **options):
        username = options.get("username")
        if username:
            user = User.objects.filter(email__iexact=username).first()
            if user is not None and not user.staff_role and not user.is_superuser:
                raise CommandError(
                    f"{user.email} is a client user: they set their own password "
                    "(password reset by e-mail); nobody else may."
                )
        return super().handle(*args, **options)
