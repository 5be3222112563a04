from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and security"

    def ready(self) -> None:
        from django.contrib.auth import signals

        signals.user_logged_in.connect(_logged_in, dispatch_uid="accounts.audit.logged_in")
        signals.user_logged_out.connect(_logged_out, dispatch_uid="accounts.audit.logged_out")
        signals.user_login_failed.connect(_login_failed, dispatch_uid="accounts.audit.failed")
        # Sign-in and sign-out receivers that track each user's sessions; settings checks.
        from . import checks, sessions  # noqa: F401


# Django's own sign-in signals are the one seam every way of signing in passes through (the
# sign-in form, the admin's, a second factor's last step): each one writes its audit row here.


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from .audit import client_of_user, record

    record("login.succeeded", actor=user, client=client_of_user(user), request=request)


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from .audit import client_of_user, record

    if user is not None and getattr(user, "pk", None) is not None:
        record("logout", actor=user, client=client_of_user(user), request=request)


def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs) -> None:
    from .audit import client_of_address, record

    # Django hides the password in ``credentials``; only the address tried is kept.
    tried = str(credentials.get("username") or credentials.get("email") or "")[:254]
    record(
        "login.failed",
        actor_label=tried or "unknown",
        client=client_of_address(tried),
        request=request,
        target=tried,
    )
