from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and security"

    def ready(self) -> None:
        from . import lockout  # noqa: F401 - the audit log's sign-in and sign-out receivers
