from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"

    def ready(self) -> None:
        # Report builders register themselves on import.
        from . import builders, reports  # noqa: F401
