from django.apps import AppConfig


class PatchopsConfig(AppConfig):
    name = "patchops"
    verbose_name = "Patch core"
