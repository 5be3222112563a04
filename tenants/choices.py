from django.db import models

__all__ = ["StaffRole", "MembershipRole", "TokenScope", "DiscoveryCadence"]


class StaffRole(models.TextChoices):
    """Roles of MSP staff; a user with no staff role is a client user."""

    MSP_ADMIN = "msp_admin", "MSP admin"
    ENGINEER = "engineer", "Engineer"
    ACCOUNT_MANAGER = "account_manager", "Account manager"


class MembershipRole(models.TextChoices):
    """Roles a client user holds in the one client they belong to."""

    CLIENT_OWNER = "client_owner", "Client owner"
    CLIENT_VIEWER = "client_viewer", "Client viewer"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"
    AGENT = "agent", "Discovery agent"


class DiscoveryCadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
