"""Choices more than one layer speaks of: the operating-system families that both the catalogue
(which advisories apply) and the inventory (what a device runs) name."""

from django.db import models

__all__ = ["OsFamily"]


class OsFamily(models.TextChoices):
    WINDOWS = "windows", "Windows"
    MACOS = "macos", "macOS"
    LINUX = "linux", "Linux"
    OTHER = "other", "Other"
