"""MSP-wide patch policy templates (public schema): defined once by an MSP admin, applied to many
clients, each of which then holds its own policy that remembers the template."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from common.limits import TEXT_MAX_LENGTH

from .rules import PolicyRules


class PolicyTemplate(PolicyRules):
    """A patch policy for many clients. Asset classes and rings are named by their keys
    (``workstation``, ``production``): each client resolves them in its own schema."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    asset_classes = ArrayField(
        models.SlugField(max_length=50),
        default=list,
        blank=True,
        help_text="Asset class keys; empty: every class.",
    )
    rings = ArrayField(
        models.SlugField(max_length=50),
        default=list,
        blank=True,
        help_text="Ring keys; empty: every ring.",
    )
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
