from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Every app declares its event kinds in <app>/events.py (evidence.contract); all of them
        # are loaded here, before anything can record an event.
        autodiscover_modules("events")
