from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "findings"
    verbose_name = "Findings and SLA"

    def ready(self) -> None:
        from catalogue.signals import catalogue_changed
        from inventory.hooks import (
            on_asset_page,
            on_business_attributes_changed,
            on_inventory_synced,
        )

        from .pipeline import refresh_after_ingest
        from .rescore import rescore_findings
        from .selectors import asset_page_context
        from .tasks import on_catalogue_changed

        catalogue_changed.connect(on_catalogue_changed, dispatch_uid="patchops.refresh_findings")
        # Every ingest re-matches the devices it recorded, in its transaction.
        on_inventory_synced(refresh_after_ingest)
        on_asset_page(asset_page_context)
        # Triage, manual fixes and checks on the findings pages.
        from .actions import register

        register()
        # A person's change of ePHI, class or role re-scores the asset's findings, in its call.
        on_business_attributes_changed(rescore_findings)
