"""Signed-in sessions: which a user has, how long they last, and ending them.

Each sign-in (``django.contrib.auth.login``, whatever view calls it) records a ``UserSession``
row and two stamps in the session: when it started and whether its user is MSP staff.
``SessionLifetimeMiddleware`` ends a session idle longer than the user's idle timeout
(``SESSION_IDLE_TIMEOUT_STAFF_MINUTES`` for MSP staff, ``SESSION_IDLE_TIMEOUT_CLIENT_MINUTES``
for client users) or older than ``SESSION_ABSOLUTE_LIFETIME_HOURS``. Last activity is kept in
the ``activity`` cache (no database write per request), written at most once a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.cache import caches
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .models import UserSession

__all__ = [
    "idle_timeout_seconds",
    "end_sessions",
    "rekey",
    "sessions_of",
    "SessionLifetimeMiddleware",
]

STARTED = "_patchops_started"
IS_STAFF = "_patchops_staff"
ACTIVITY_CACHE = "activity"
# Last activity is written at most once this many seconds (not on every request): a session
# may end up to this much before its exact idle timeout, never after it.
ACTIVITY_RESOLUTION_SECONDS = 60


def _now() -> float:
    return time.time()


def _activity_key(session_key: str) -> str:
    return f"session-activity:{session_key}"


def idle_timeout_seconds(*, is_staff: bool) -> int:
    minutes = (
        settings.SESSION_IDLE_TIMEOUT_STAFF_MINUTES
        if is_staff
        else settings.SESSION_IDLE_TIMEOUT_CLIENT_MINUTES
    )
    return int(minutes * 60)


def absolute_lifetime_seconds() -> int:
    return int(settings.SESSION_ABSOLUTE_LIFETIME_HOURS * 3600)


def _touch(session_key: str) -> None:
    # Kept as long as a session may live: a missing entry means "not tracked yet", not "idle".
    caches[ACTIVITY_CACHE].set(
        _activity_key(session_key), _now(), timeout=absolute_lifetime_seconds() + 60
    )


def rekey(*, old: str | None, new: str | None) -> None:
    """The session's key changed (``update_session_auth_hash`` after a password change)."""
    if old and new and old != new:
        UserSession.objects.filter(session_key=old).update(session_key=new)
        caches[ACTIVITY_CACHE].delete(_activity_key(old))
        _touch(new)


@receiver(user_logged_in, dispatch_uid="accounts.sessions.track")
def _track_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    is_staff = bool(user.staff_role) or user.is_superuser
    session[STARTED] = _now()
    session[IS_STAFF] = is_staff
    meta = getattr(request, "META", {})
    UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "created_at": timezone.now(),
            "ip_address": meta.get("REMOTE_ADDR") or None,
            "user_agent": meta.get("HTTP_USER_AGENT", "")[:300],
        },
    )
    _touch(session.session_key)


@receiver(user_logged_out, dispatch_uid="accounts.sessions.untrack")
def _untrack_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()
        caches[ACTIVITY_CACHE].delete(_activity_key(key))


def end_sessions(*, user: Any, keep: str | None = None) -> int:
    """End every session of ``user`` (except the one with key ``keep``); the number ended."""
    engine = import_module(settings.SESSION_ENGINE)
    rows = UserSession.objects.filter(user=user)
    if keep:
        rows = rows.exclude(session_key=keep)
    keys = list(rows.values_list("session_key", flat=True))
    store = engine.SessionStore()
    for key in keys:
        store.delete(key)
        caches[ACTIVITY_CACHE].delete(_activity_key(key))
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


def sessions_of(user: Any) -> list[UserSession]:
    return list(UserSession.objects.filter(user=user))


class SessionLifetimeMiddleware:
    """After authentication: sign out a session past its idle timeout or absolute lifetime."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY):
            self._check(request, session)
        return self.get_response(request)

    def _check(self, request: HttpRequest, session: Any) -> None:
        now = _now()
        key = session.session_key
        is_staff = bool(session.get(IS_STAFF, True))
        started = session.get(STARTED)
        if started is None:
            # A session from before sessions were stamped: it starts now.
            session[STARTED] = now
            _touch(key)
            return
        seen = caches[ACTIVITY_CACHE].get(_activity_key(key))
        reason = ""
        if now - started > absolute_lifetime_seconds():
            reason = "absolute"
        elif seen is not None and now - seen > idle_timeout_seconds(is_staff=is_staff):
            reason = "idle"
        if not reason:
            if seen is None or now - seen >= ACTIVITY_RESOLUTION_SECONDS:
                _touch(key)
            return
        # The sign-out's audit row (accounts.apps) carries why the session ended.
        request.signout_reason = reason
        logout(request)
        if reason == "idle":
            minutes = idle_timeout_seconds(is_staff=is_staff) // 60
            text = f"You were signed out after {minutes} minutes without activity."
        else:
            hours = absolute_lifetime_seconds() // 3600
            text = f"You were signed out: a session lasts at most {hours} hours."
        messages.info(request, text)
