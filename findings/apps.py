from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "findings"
    verbose_name = "Findings and SLA"

    def ready(self) -> None:
        from catalogue.signals import catalogue_changed

        from .tasks import on_catalogue_changed

        catalogue_changed.connect(on_catalogue_changed, dispatch_uid="patchops.refresh_findings")
