from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and security"

    def ready(self) -> None:
        from django.contrib.auth import signals

        signals.user_logged_in.connect(_logged_in, dispatch_uid="accounts.audit.logged_in")
        signals.user_logged_out.connect(_logged_out, dispatch_uid="accounts.audit.logged_out")
        # Sign-in and sign-out receivers that track each user's sessions; settings checks.
        from . import checks, lockout, sessions  # noqa: F401


# Django's own sign-in signals are the one seam every way of signing in passes through (the
# sign-in form, the admin's, a second factor's last step): each one writes its audit row here.


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from .audit import client_of_user, record

    if request is None or request.method is None:
        return  # a session made without a request (the test client's force_login)
    record(
        "login.succeeded",
        actor=user,
        client=client_of_user(user),
        request=request,
        target=user.email,
    )


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from .audit import client_of_user, record

    if user is not None and getattr(user, "pk", None) is not None:
        reason = getattr(request, "signout_reason", "")
        detail = {"reason": reason} if reason else {}
        record(
            "logout",
            actor=user,
            client=client_of_user(user),
            request=request,
            target=user.email,
            **detail,
        )
