from django.apps import AppConfig


class PrivilegedConfig(AppConfig):
    name = "privileged"
    verbose_name = "Privileged account register"

    def ready(self) -> None:
        # A client user deactivated is a leaver: their privileged accounts get a checklist.
        from evidence.subscribers import subscribe

        from .services import on_person_deactivated

        subscribe(["person.deactivated"], on_person_deactivated)
