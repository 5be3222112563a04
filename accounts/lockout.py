"""Sign-in lockout: failed passwords counted per e-mail address and client address, and per
client address alone (django-axes, with this module as its handler, backend and lockout page).

* A failure counts against the address tried from that client address: ``LOGIN_FAILURE_LIMIT``
  of them lock that pair, and against the client address as a whole: ``LOGIN_IP_FAILURE_LIMIT``
  of them (guesses spread over many accounts) lock every sign-in from it.
* A lockout lifts after ``LOGIN_LOCKOUT_MINUTES`` or when an MSP admin lifts it (``unlock``:
  the Django admin's access attempts and their "Lift the selected lockouts" action, or
  ``manage.py unlock_account``).
* While locked, even the right password is refused; the sign-in page answers 429 with
  ``templates/accounts/lockout.html`` and a ``Retry-After`` header.
* Every failure, lockout, lifted lockout, sign-in and sign-out is a row of the audit log.

Only sign-ins that carry their request are counted (the login page, ``authenticate(request=…)``);
an ``authenticate()`` without one (the test client's ``login()``, a shell) is not a sign-in from
anywhere and passes through to the password check.
"""

from __future__ import annotations

import math
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import audit
from .audit import client_ip

__all__ = [
    "client_ip",
    "username_of",
    "LockoutHandler",
    "LockoutBackend",
    "lockout_response",
    "unlock",
    "locked_addresses",
]


def username_of(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The e-mail address tried, as accounts store it (case and spaces do not make a new one)."""
    credentials = credentials or {}
    value = credentials.get("username", credentials.get("email"))
    if not isinstance(value, str):
        return None
    return value.strip().lower()[:254] or None


def _ip_failures(request: HttpRequest) -> int:
    ip = getattr(request, "axes_ip_address", None)
    if not ip:
        return 0
    attempts = AccessAttempt.objects.filter(ip_address=ip)
    if get_cool_off(request) is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with a second, larger limit per client address, the audit
    rows, and a successful sign-in clearing only its own address's failures."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        account = super().get_failures(request, credentials)
        if _ip_failures(request) >= settings.LOGIN_IP_FAILURE_LIMIT:
            # The address is over its own limit: every account from it counts as locked.
            return max(account, get_failure_limit(request, credentials))
        return account

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        was_locked = request is not None and self.is_locked(request, credentials)
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None:
            return
        username = get_client_username(request, credentials) or ""
        audit.record(
            "login.failed",
            actor_label=username or "(no address given)",
            client=audit.client_of_address(username),
            request=request,
            target=username,
            locked=bool(getattr(request, "axes_locked_out", False)),
        )
        if getattr(request, "axes_locked_out", False) and not was_locked:
            by_address = _ip_failures(request) >= settings.LOGIN_IP_FAILURE_LIMIT
            audit.record(
                "login.locked_out",
                actor_label=username or "(no address given)",
                client=audit.client_of_address(username),
                request=request,
                target=username,
                scope="address" if by_address else "account",
                minutes=settings.LOGIN_LOCKOUT_MINUTES,
            )

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(
            username=username, ip_address=getattr(request, "axes_ip_address", None)
        ).delete()
        return count


class LockoutBackend(AxesStandaloneBackend):
    """First of ``AUTHENTICATION_BACKENDS``: refuses a locked-out sign-in before the password
    is checked. Without a request there is nothing to count (see the module's docstring)."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The lockout page (HTTP 429), in the house's templates."""
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    response = render(
        request,
        "accounts/lockout.html",
        {"minutes": minutes, "username": username_of(request, credentials) or ""},
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(minutes * 60)))
    return response


@transaction.atomic
def unlock(
    *,
    username: str | None = None,
    ip_address: str | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> int:
    """Lift the lockout of an e-mail address (from every client address), of a client address
    (for every account), or of the pair; returns how many failure records were cleared.

    Recorded as ``login.unlocked`` when anything was cleared."""
    username = (username or "").strip().lower() or None
    ip_address = (ip_address or "").strip() or None
    if username is None and ip_address is None:
        raise ValueError("Give an e-mail address or a client address to unlock.")
    attempts = AccessAttempt.objects.all()
    if username:
        attempts = attempts.filter(username=username)
    if ip_address:
        attempts = attempts.filter(ip_address=ip_address)
    failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
    count, _ = attempts.delete()
    if count:
        audit.record(
            "login.unlocked",
            actor=actor,
            request=request,
            target=username or ip_address or "",
            username=username or "",
            ip_address=ip_address or "",
            failures_cleared=failures,
        )
    return count


def locked_addresses(username: str) -> list[tuple[str, int]]:
    """Client addresses over their own limit from which ``username`` also tried (an account
    unlock does not lift those: name the address too)."""
    username = username.strip().lower()
    ips = (
        AccessAttempt.objects.filter(username=username)
        .exclude(ip_address__isnull=True)
        .values_list("ip_address", flat=True)
        .distinct()
    )
    locked = []
    for ip in ips:
        total = (
            AccessAttempt.objects.filter(ip_address=ip)
            .exclude(username=username)
            .aggregate(n=Sum("failures_since_start"))["n"]
            or 0
        )
        if total >= settings.LOGIN_IP_FAILURE_LIMIT:
            locked.append((ip, total))
    return locked
