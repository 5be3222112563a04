from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "PSA and RMM integrations"

    def ready(self) -> None:
        # Registers the outbox senders (every process that delivers needs them).
        from evidence.subscribers import subscribe
        from findings.hooks import register_finding_action
        from inventory.hooks import on_scheduled_discovery

        from . import connectors, psa, rmm_pull, scans  # noqa: F401
        from .finding_actions import ACTION

        # "Open a PSA ticket" on the findings pages.
        register_finding_action(ACTION)
        # Tickets opened, noted and closed in the client's PSA as the work moves.
        subscribe(psa.SUBSCRIBED_KINDS, psa.on_event)
        # The client's RMM connections are read on its discovery schedule.
        on_scheduled_discovery(rmm_pull.scheduled_pull)
        # Scan jobs for the designated scanner agents in the scheduled discovery.
        on_scheduled_discovery(scans.queue_scheduled_scans)
