from django.apps import AppConfig


class RingsConfig(AppConfig):
    name = "rings"
