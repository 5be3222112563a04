"""People's accounts: the security audit log, invitations and signed-in sessions.

The security audit log: who signed in, failed, was locked out, changed a factor, invited,
re-roled or removed someone, created or revoked a token, exported or downloaded what.

Kept in the public schema (one table for the MSP), each row naming its client where the event
concerns one, so MSP admins see every row and a client's owners see their own client's.
Rows are only ever added (``accounts.audit.record``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Client


class AuditEvent(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the signed-in person who acted, when one did",
    )
    actor_label = models.CharField(
        max_length=254, help_text="e-mail, token:<name>, the address tried, or system"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    target = models.CharField(
        max_length=254, blank=True, help_text="what the event is about: a user, token, file"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["client", "-occurred_at"]),
            models.Index(fields=["kind", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind} {self.actor_label}"


class InvitationQuerySet(models.QuerySet):
    def pending(self, *, at=None) -> InvitationQuerySet:
        """Neither accepted nor withdrawn, and not expired at ``at`` (default: now)."""
        return self.filter(
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=at or timezone.now(),
        )


class Invitation(models.Model):
    """An invitation of one e-mail address to one client with one role, or (no client) to the
    MSP's staff with one staff role.

    The link's token is shown only in the e-mail it is sent in; only its SHA-256 is kept here.
    It works once (``accepted_at``), until ``expires_at``, unless withdrawn (``revoked_at``).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="invitations",
        help_text="empty for an invitation to the MSP's staff",
    )
    email = models.EmailField()
    role = models.CharField(
        max_length=20, help_text="a membership role, or a staff role when there is no client"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open_per_address",
                violation_error_message="This address already has an open invitation.",
            ),
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(
                    client__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
                ),
                name="%(app_label)s_%(class)s_one_open_staff_per_address",
                violation_error_message="This address already has an open staff invitation.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.client or 'MSP staff'} ({self.role})"

    @property
    def is_staff_invitation(self) -> bool:
        return self.client_id is None

    def is_expired(self, *, at=None) -> bool:
        return self.expires_at <= (at or timezone.now())


class UserSession(models.Model):
    """One signed-in session of a user (a row per session key), so a user can see their
    sessions and end the others, and deactivation can end them all at once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"


class Passkey(models.Model):
    """A WebAuthn credential a person registered: the authenticator keeps the private key, the
    portal its public key (COSE), so an assertion proves that this person's device signed."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    name = models.CharField(max_length=100)
    credential_id = models.CharField(
        max_length=1400, unique=True, help_text="the credential ID, base64url without padding"
    )
    public_key = models.BinaryField(help_text="the credential's public key, COSE_Key bytes")
    sign_count = models.PositiveBigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="%(app_label)s_%(class)s_name_required",
                violation_error_message="Give the passkey a name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"
