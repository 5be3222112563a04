"""Notifications (public schema, beside the users): what each user is told, how they want to be
told, and the MSP's chat channels for engineer alerts."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .choices import ChatProvider, Delivery, NotificationKind, NotificationState

__all__ = ["Notification", "NotificationPreference", "NotificationSettings", "ChatWebhook"]


class Notification(models.Model):
    """One thing one user is told once on one channel. The idempotency key (user, event,
    channel) makes a repeated event or a retried task the same row, sent once."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    client = models.ForeignKey(
        "tenants.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    channel = models.CharField(max_length=10, default="email")
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    event_uuid = models.UUIDField(null=True, blank=True)
    title = models.CharField(max_length=250)
    lines = models.JSONField(default=list, blank=True)
    url = models.CharField(max_length=1000)
    state = models.CharField(
        max_length=10, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["user", "delivery", "state"], name="notifications_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.user}"


class NotificationPreference(models.Model):
    """How one user wants one kind of notification (no row: immediately)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    delivery = models.CharField(max_length=10, choices=Delivery.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"], name="notifications_one_preference_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} {self.delivery}"


class NotificationSettings(models.Model):
    """When one user's daily digest goes out: at ``digest_hour`` in ``time_zone``, once a day
    (``last_digest_on`` is the local day of the last one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    digest_hour = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    time_zone = models.CharField(max_length=64)
    last_digest_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user}: digest at {self.digest_hour:02d}:00 {self.time_zone}"


class ChatWebhook(models.Model):
    """A chat channel of the MSP (Teams or Slack incoming webhook) that receives the engineer
    alerts of every client."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=ChatProvider.choices)
    url = models.URLField(max_length=1000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"
