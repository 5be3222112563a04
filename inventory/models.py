"""Inventory (tenant schema): sites and the assets found there."""

import uuid

from django.db import models

__all__ = ["Site"]


class Site(models.Model):
    """A location of the client (clinic, office, data centre)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    address = models.CharField(max_length=250, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
