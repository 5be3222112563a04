from django.apps import AppConfig


class PatchopsConfig(AppConfig):
    """The project package. It holds no models: its migrations keep the history of the findings
    and SLA models up to their move to the ``findings`` app (same tables)."""

    name = "patchops"
    verbose_name = "PatchOps"

    def ready(self) -> None:
        from common.apisync import install_touch_on_update

        # updated_at moves on QuerySet.update() and bulk_update() too (API ?updated_since=).
        install_touch_on_update()
