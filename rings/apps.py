from django.apps import AppConfig


class RingsConfig(AppConfig):
    name = "rings"

    def ready(self) -> None:
        # New managed devices get their ring in the transaction that records them.
        from findings.hooks import on_findings_verified
        from integrations.hooks import (
            on_dead,
            on_delivered,
            on_job_result,
            on_retry_refused,
            on_undeliverable,
        )
        from inventory.hooks import on_assets_recorded, on_install_records_received

        from .services import place_new_assets, verify_results_for_assets
        from .services.agent_results import apply_job_result, record_undeliverable
        from .services.outbox_outcomes import call_dead, call_delivered, retry_refusal

        on_assets_recorded(place_new_assets)
        # Reported deployments are checked against the OS's own install records.
        from .services.os_records import check_deployments_against_os_records

        on_install_records_received(check_deployments_against_os_records)
        # Deployments become verified with the findings an inventory verified.
        on_findings_verified(verify_results_for_assets)
        # Agents' job reports and undeliverable waves settle the rollout's results.
        on_job_result(apply_job_result)
        on_undeliverable(record_undeliverable)
        # What a delivered or given-up RMM call means for the rollout.
        on_delivered(call_delivered)
        on_dead(call_dead)
        on_retry_refused(retry_refusal)
        # "Add to a rollout" on the findings pages.
        from findings.hooks import register_finding_action

        from .finding_actions import ACTION

        register_finding_action(ACTION)
