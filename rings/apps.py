from django.apps import AppConfig


class RingsConfig(AppConfig):
    name = "rings"

    def ready(self) -> None:
        # New managed devices get their ring in the transaction that records them.
        from inventory.hooks import on_assets_recorded

        from .services import place_new_assets

        on_assets_recorded(place_new_assets)
