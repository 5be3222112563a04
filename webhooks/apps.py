from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from evidence.subscribers import subscribe
        from integrations import outbox

        from . import services
        from .choices import DELIVERY_KIND, SOURCE_KINDS

        # Every process that appends events or delivers the outbox needs both.
        subscribe(list(SOURCE_KINDS), services.on_event)
        outbox.register(DELIVERY_KIND, services.WebhookSender())
