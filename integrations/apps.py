from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "PSA and RMM integrations"

    def ready(self) -> None:
        # Registers the outbox senders (every process that delivers needs them).
        from evidence.subscribers import subscribe

        from . import connectors, psa  # noqa: F401

        subscribe(psa.SUBSCRIBED_KINDS, psa.on_event)
