"""Exception register (tenant schema): deferrals and isolated lanes, signed and always expiring."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from common.limits import TEXT_MAX_LENGTH

from .choices import (
    OPEN_FOR_CHANGE,
    ControlKind,
    ExceptionKind,
    ExceptionState,
    SignatureDecision,
    SignatureMethod,
)

__all__ = [
    "RiskException",
    "CompensatingControl",
    "Signature",
    "ExceptionReminder",
    "SignedRecordError",
]

# Columns whose values are what the client owner signs; frozen once the exception leaves
# draft / pending sign-off (also enforced by a database trigger, see migration 0003).
SIGNED_CONTENT_FIELDS = (
    "uuid",
    "kind",
    "reason",
    "ticket_reference",
    "expires_at",
    "starts_at",
    "requested_by",
    "requested_by_label",
    "approver",
    "supersedes",
    "version",
    "created_at",
)


class SignedRecordError(ValidationError):
    """A signed exception or a signature was about to be changed."""


class RiskException(models.Model):
    """A deferral (given findings / assets) or an isolated lane (an asset that cannot patch).

    It covers its findings only while ``state == active`` and ``starts_at <= t < expires_at``:
    coverage ends at the expiry instant, before any task runs.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ExceptionKind.choices)
    state = models.CharField(
        max_length=20, choices=ExceptionState.choices, default=ExceptionState.DRAFT
    )
    reason = models.TextField(max_length=TEXT_MAX_LENGTH)
    ticket_reference = models.CharField(max_length=100)
    assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="exceptions")
    findings = models.ManyToManyField("findings.Finding", blank=True, related_name="exceptions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        help_text="The engineer who asked for it (empty when an API token did).",
    )
    requested_by_label = models.CharField(
        max_length=200, help_text="Who requested it: an e-mail or token:<name>."
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        help_text="The client owner who must sign.",
    )
    supersedes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="successors",
        help_text="The exception this one renews or revises.",
    )
    version = models.PositiveIntegerField(default=1)
    submitted_at = models.DateTimeField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    ended_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(ticket_reference=""),
                name="%(app_label)s_%(class)s_ticket_required",
                violation_error_message="An exception needs a PSA ticket reference.",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="%(app_label)s_%(class)s_expires_after_creation",
                violation_error_message="The expiry must lie after the request.",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=ExceptionState.ACTIVE)
                | models.Q(starts_at__isnull=False, starts_at__lt=models.F("expires_at")),
                name="%(app_label)s_%(class)s_active_has_start",
                violation_error_message="An active exception starts before it expires.",
            ),
            models.CheckConstraint(
                condition=~models.Q(reason=""),
                name="%(app_label)s_%(class)s_reason_required",
                violation_error_message="An exception needs a reason.",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="exceptions_state_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.ticket_reference} v{self.version}"

    # --- immutability --------------------------------------------------------------------------

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            stored = (
                RiskException.objects.filter(pk=self.pk)
                .values("state", *[_column(f) for f in SIGNED_CONTENT_FIELDS])
                .first()
            )
            if stored is not None and stored["state"] not in OPEN_FOR_CHANGE:
                changed = [
                    f
                    for f in SIGNED_CONTENT_FIELDS
                    if stored[_column(f)] != getattr(self, _column(f))
                ]
                if changed:
                    raise SignedRecordError(
                        "A signed exception cannot be changed; create a new version instead "
                        f"(changed: {', '.join(changed)})."
                    )
        super().save(*args, **kwargs)

    # --- derived state -------------------------------------------------------------------------

    def covers_at(self, at: datetime) -> bool:
        return (
            self.state == ExceptionState.ACTIVE
            and self.starts_at is not None
            and self.starts_at <= at < self.expires_at
        )

    def is_expired(self, *, at: datetime | None = None) -> bool:
        return (at or timezone.now()) >= self.expires_at

    @property
    def state_color(self) -> str:
        return ExceptionState(self.state).color

    def aging_days(self, *, at: datetime | None = None) -> int | None:
        """Days since the exception began (signed), while it is active."""
        if self.starts_at is None:
            return None
        return max(0, ((at or timezone.now()) - self.starts_at).days)

    def days_left(self, *, at: datetime | None = None) -> int:
        """Whole days left to the hard expiry (0 once expired)."""
        seconds = (self.expires_at - (at or timezone.now())).total_seconds()
        return max(0, int(seconds // 86400))

    def duration_days(self) -> int | None:
        """The full length of the exception: start (signature) to expiry or earlier end."""
        if self.starts_at is None:
            return None
        end = min(self.expires_at, self.ended_at) if self.ended_at else self.expires_at
        return max(0, (end - self.starts_at).days)

    # --- the text an owner signs ---------------------------------------------------------------

    def canonical_text(self) -> str:
        """The exact, stable text shown to the client owner and hashed into the signature."""

        def ts(value: datetime) -> str:
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        assets = sorted(self.assets.all(), key=lambda a: (a.hostname, str(a.uuid)))
        findings = sorted(
            self.findings.select_related("asset"),
            key=lambda f: (f.asset.hostname, f.patch_identifier, str(f.uuid)),
        )
        controls = sorted(self.controls.all(), key=lambda c: (c.kind, c.description, c.pk))
        lines = [
            "PatchOps risk exception",
            f"Exception: {self.uuid}",
            f"Version: {self.version}",
            f"Supersedes: {self.supersedes.uuid if self.supersedes_id else '-'}",
            f"Kind: {self.get_kind_display()}",
            f"PSA ticket: {self.ticket_reference}",
            f"Requested by: {self.requested_by_label}",
            f"Approver: {self.approver.email}",
            f"Requested at: {ts(self.created_at)}",
            f"Hard expiry: {ts(self.expires_at)}",
            *_local_expiry(self.expires_at),
            "Reason:",
            *[f"  {line}" for line in self.reason.strip().splitlines()],
            "Assets:",
            *([f"  - {a.hostname} ({a.uuid})" for a in assets] or ["  (none)"]),
            "Findings:",
            *(
                [f"  - {f.patch_identifier} on {f.asset.hostname} ({f.uuid})" for f in findings]
                or ["  (none)"]
            ),
            "Compensating controls:",
            *(
                [f"  - {c.get_kind_display()}: {c.description.strip()}" for c in controls]
                or ["  (none)"]
            ),
        ]
        return "\n".join(lines) + "\n"

    def canonical_sha256(self) -> str:
        return hashlib.sha256(self.canonical_text().encode("utf-8")).hexdigest()


def _column(field: str) -> str:
    return f"{field}_id" if field in ("requested_by", "approver", "supersedes") else field


class CompensatingControl(models.Model):
    """What limits the risk while the patch is not applied."""

    exception = models.ForeignKey(RiskException, on_delete=models.CASCADE, related_name="controls")
    kind = models.CharField(max_length=30, choices=ControlKind.choices)
    description = models.TextField(max_length=TEXT_MAX_LENGTH)

    class Meta:
        ordering = ["kind", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(description=""),
                name="%(app_label)s_%(class)s_description_required",
                violation_error_message="Describe the compensating control.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description[:60]}"

    def save(self, *args, **kwargs) -> None:
        if self.exception.state not in OPEN_FOR_CHANGE:
            raise SignedRecordError("The controls of a signed exception cannot be changed.")
        super().save(*args, **kwargs)


class Signature(models.Model):
    """A client owner's decision on one exception version: append-only."""

    exception = models.OneToOneField(
        RiskException, on_delete=models.PROTECT, related_name="signature"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    user_email = models.EmailField()
    decision = models.CharField(max_length=10, choices=SignatureDecision.choices)
    rejection_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    signed_text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    # How the signer proved it was them at that moment. With a passkey the record keeps the
    # authenticator's assertion over SHA-256(signed_text) and the credential's public key, so
    # anyone can check it offline (reports/verify_bundle.py).
    method = models.CharField(max_length=10, choices=SignatureMethod.choices)
    credential_id = models.CharField(max_length=1400, blank=True)
    credential_public_key = models.BinaryField(blank=True, default=b"")
    authenticator_data = models.BinaryField(blank=True, default=b"")
    client_data_json = models.BinaryField(blank=True, default=b"")
    assertion_signature = models.BinaryField(blank=True, default=b"")
    rp_id = models.CharField(max_length=253, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decision=SignatureDecision.REJECTED)
                | ~models.Q(rejection_reason=""),
                name="%(app_label)s_%(class)s_rejection_has_reason",
                violation_error_message="A rejection needs a reason.",
            ),
            models.CheckConstraint(
                condition=models.Q(text_sha256__regex=r"^[0-9a-f]{64}$"),
                name="%(app_label)s_%(class)s_sha256_hex",
                violation_error_message="The text hash must be a SHA-256 hex digest.",
            ),
            models.CheckConstraint(
                condition=models.Q(method__in=SignatureMethod.values),
                name="%(app_label)s_%(class)s_method_known",
                violation_error_message="A signature records how the signer proved it was them.",
            ),
            models.CheckConstraint(
                condition=~models.Q(method=SignatureMethod.PASSKEY)
                | (~models.Q(credential_id="") & ~models.Q(rp_id="")),
                name="%(app_label)s_%(class)s_passkey_has_assertion",
                violation_error_message="A passkey signature keeps its credential and assertion.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.user_email} at {self.signed_at:%Y-%m-%d}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise SignedRecordError("A signature cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SignedRecordError("A signature cannot be deleted.")

    def verify(self) -> bool:
        return hashlib.sha256(self.signed_text.encode("utf-8")).hexdigest() == self.text_sha256

    @property
    def method_label(self) -> str:
        return SignatureMethod(self.method).short_label if self.method else ""

    @property
    def method_color(self) -> str:
        return SignatureMethod(self.method).color if self.method else "gray"


class ExceptionReminder(models.Model):
    """One expiry reminder sent (exactly once per exception and lead time)."""

    exception = models.ForeignKey(RiskException, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list)

    class Meta:
        ordering = ["-days_before"]
        constraints = [
            models.UniqueConstraint(
                fields=["exception", "days_before"],
                name="%(app_label)s_%(class)s_once_per_lead_time",
                violation_error_message="This reminder was already sent.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.days_before}-day reminder for {self.exception_id}"


def _local_expiry(expires_at: datetime) -> list[str]:
    """The hard expiry in the client's own time zone, as the owner entered and reads it."""
    from django.db import connection

    tz = getattr(getattr(connection, "tenant", None), "tz", None)
    if tz is None or getattr(connection, "schema_name", "public") == "public":
        return []
    local = expires_at.astimezone(tz)
    return [f"Hard expiry, local time: {local:%Y-%m-%d %H:%M} {local.tzname()} ({tz.key})"]
