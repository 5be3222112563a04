from django.apps import AppConfig


class RingsConfig(AppConfig):
    name = "rings"

    def ready(self) -> None:
        # New managed devices get their ring in the transaction that records them.
        from findings.hooks import on_findings_verified
        from integrations.hooks import on_job_result, on_undeliverable
        from inventory.hooks import on_assets_recorded

        from .services import place_new_assets, verify_results_for_assets
        from .services.agent_results import apply_job_result, record_undeliverable

        on_assets_recorded(place_new_assets)
        # Deployments become verified with the findings an inventory verified.
        on_findings_verified(verify_results_for_assets)
        # Agents' job reports and undeliverable waves settle the rollout's results.
        on_job_result(apply_job_result)
        on_undeliverable(record_undeliverable)
