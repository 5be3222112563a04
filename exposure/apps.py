from django.apps import AppConfig


class ExposureConfig(AppConfig):
    name = "exposure"
    verbose_name = "Exposure alerts and triage"

    def ready(self) -> None:
        # A PSA ticket that reached the PSA, and a connector's reset call delivered or given up,
        # complete (or hold) the steps of the alerts that caused them.
        from evidence.subscribers import subscribe
        from integrations import hooks

        from . import services

        subscribe(["ticket.sent"], services.on_ticket_sent)
        hooks.on_delivered(services.on_reset_delivered)
        hooks.on_dead(services.on_reset_dead)
