"""What the token commands share: who runs them, and validation errors as one line."""

from __future__ import annotations

import getpass

from django.core.management.base import CommandError

from tenants.choices import StaffRole
from tenants.models import User


def acting(by: str | None) -> tuple[User | None, str]:
    """The MSP admin named by ``--by`` (the token's owner), or the command's own label."""
    if by:
        user = User.objects.filter(email=by.strip().lower(), is_active=True).first()
        if user is None or user.staff_role != StaffRole.MSP_ADMIN:
            raise CommandError(f"--by must name an active MSP admin; “{by}” is not one.")
        return user, user.email
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return None, f"manage.py ({who})"
