from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        # Report builders register themselves on import.
        from . import builders, services  # noqa: F401
