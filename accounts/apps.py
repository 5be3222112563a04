from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and security"

    def ready(self) -> None:
        # Sign-in and sign-out receivers that track each user's sessions; settings checks.
        from . import checks, sessions  # noqa: F401
