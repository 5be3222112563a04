"""System checks of the session settings: positive, and staff sessions idle out first."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

NAMES = (
    "SESSION_IDLE_TIMEOUT_STAFF_MINUTES",
    "SESSION_IDLE_TIMEOUT_CLIENT_MINUTES",
    "SESSION_ABSOLUTE_LIFETIME_HOURS",
    "INVITATION_MAX_AGE_HOURS",
    "PASSWORD_RESET_TIMEOUT",
)


@register()
def session_settings(app_configs: Any, **kwargs: Any) -> list:
    problems: list = []
    for name in NAMES:
        if getattr(settings, name) <= 0:
            problems.append(Error(f"{name} must be a positive number.", id="accounts.E001"))
    staff = settings.SESSION_IDLE_TIMEOUT_STAFF_MINUTES
    client = settings.SESSION_IDLE_TIMEOUT_CLIENT_MINUTES
    if staff > client:
        problems.append(
            Warning(
                f"SESSION_IDLE_TIMEOUT_STAFF_MINUTES ({staff}) is longer than "
                f"SESSION_IDLE_TIMEOUT_CLIENT_MINUTES ({client}): MSP staff hold more power "
                "and should idle out first.",
                id="accounts.W001",
            )
        )
    return problems
