from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications (e-mail, digest and chat alerts)"

    def ready(self) -> None:
        # Reacts to appended evidence events, and registers the chat sender of the outbox.
        from evidence.subscribers import subscribe

        from . import chat, services

        subscribe(sorted(services.HANDLED_KINDS), services.on_event)
        chat.register_sender()
