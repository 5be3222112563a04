"""Webhook endpoints: where PatchOps POSTs signed events. They live in the public schema (an
MSP endpoint hears every client; a client endpoint names its client); each delivery is an
outbox message in the client's own schema (``integrations.outbox``)."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenants.models import Client

from .choices import WebhookEvent


class WebhookEndpoint(models.Model):
    """One receiver URL with the events it hears and the secret that signs them."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="The client whose events it hears; empty: every client (an MSP endpoint).",
    )
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices))
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField()
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["client", "is_active"], name="webhooks_endpoint_client")]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def is_msp_wide(self) -> bool:
        return self.client_id is None

    def signing_secrets(self, at) -> list[str]:
        """The secrets that sign a delivery at ``at``: the current one, and the previous one
        while its grace period lasts."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and at < self.previous_secret_expires_at
        ):
            secrets.append(self.previous_secret)
        return secrets
