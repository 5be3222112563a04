from django.db import models

__all__ = ["Step", "StepState", "ResetVia", "Via"]


class Step(models.TextChoices):
    """The playbook's triage of a credential alert, in its order."""

    TICKET = "ticket", "PSA ticket"
    RESET = "reset", "Forced password reset"
    NOTIFY = "notify", "Client owner told"


class StepState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ResetVia(models.TextChoices):
    CONNECTOR = "connector", "Through the RMM connector"
    MANUAL = "manual", "Manual task for an engineer"


class Via(models.TextChoices):
    API = "api", "API"
    WEBHOOK = "webhook", "Signed webhook"
