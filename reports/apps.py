from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        # Report builders register themselves on import.
        from evidence.subscribers import subscribe

        from . import builders, services  # noqa: F401
        from .delivery import on_report_generated

        # Each new report is e-mailed (as a link) to the recipients of its kind.
        subscribe(["report.generated"], on_report_generated)
