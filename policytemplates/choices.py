"""Choices that a client's patch policy (rings) and an MSP-wide template share."""

from django.db import models

__all__ = ["PolicySchedule", "ProductClass", "PolicyApprover", "WEEKDAYS"]


class PolicySchedule(models.TextChoices):
    """When a policy runs, in the client's time zone: N days after Patch Tuesday (the second
    Tuesday of the month), or every week on one weekday."""

    PATCH_TUESDAY = "patch_tuesday", "Days after Patch Tuesday"
    WEEKLY = "weekly", "Weekly"


class ProductClass(models.TextChoices):
    """Which kind of update a policy takes: the operating system's own updates (Windows
    cumulative updates, distribution packages, macOS updates), third-party applications, or
    both."""

    OS = "os", "Operating-system updates"
    APPLICATIONS = "applications", "Third-party applications"
    ANY = "any", "Every update"


class PolicyApprover(models.TextChoices):
    """Who approves the start of a rollout a policy created (the values of the rings'
    approver roles); ``none``: the rollout starts on its own."""

    NONE = "none", "No approval step"
    ENGINEER = "engineer", "Engineer"
    MSP_ADMIN = "msp_admin", "MSP admin"
    CLIENT_OWNER = "client_owner", "Client owner"


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
