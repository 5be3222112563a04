from django.apps import AppConfig


class PolicyTemplatesConfig(AppConfig):
    name = "policytemplates"
    verbose_name = "Patch policy templates"
