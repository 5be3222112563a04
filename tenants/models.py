"""Public-schema models: clients (tenants), their domains, users, memberships and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from .choices import ClientLocale, DiscoveryCadence, MembershipRole, StaffRole, TokenScope
from .tiers import DEFAULT_PLAN, Plan, Tier, tier_of

__all__ = [
    "Client",
    "Domain",
    "User",
    "Membership",
    "ApiToken",
    "RESERVED_SLUGS",
    "slug_validator",
    "MspProfile",
    "ClientLogo",
]

RESERVED_SLUGS = frozenset(
    {
        "public",
        "tenant_template",
        "pg_catalog",
        "information_schema",
        "admin",
        "api",
        "static",
        "media",
        "clients",
        "accounts",
        "health",
        "template",
    }
)
slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{1,46}[a-z0-9]$",
    "A slug is 3 to 48 characters: lower-case letters, digits and hyphens, starting with a "
    "letter and not ending with a hyphen.",
)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone (for example Europe/Berlin).")


class Client(TenantMixin):
    """One MSP client: one PostgreSQL schema holding its assets, findings, rollouts and evidence."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=48, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    locale = models.CharField(
        max_length=10,
        choices=ClientLocale.choices,
        default=ClientLocale.EN_US,
        help_text="Language and country; the client's reports are printed on Letter paper in "
        "countries that use it (United States, Canada, Mexico, …) and on A4 elsewhere.",
    )
    is_hipaa = models.BooleanField("HIPAA regulated", default=False)
    plan = models.CharField(
        "service plan",
        max_length=30,
        choices=Plan.choices,
        default=DEFAULT_PLAN,
        help_text="What the client gets: report kinds and cadence, the HIPAA pack, QBRs, "
        "exposure monitoring and response times (tenants.tiers).",
    )
    business_hours_start = models.TimeField(default="08:00")
    business_hours_end = models.TimeField(default="18:00")
    discovery_cadence = models.CharField(
        max_length=10, choices=DiscoveryCadence.choices, default=DiscoveryCadence.DAILY
    )
    stale_after_days = models.PositiveSmallIntegerField(default=14)
    max_exception_days = models.PositiveSmallIntegerField(default=90)
    require_mfa_for_viewers = models.BooleanField(
        "second factor required for viewers",
        default=False,
        help_text="Client viewers must sign in with a second factor too (staff and owners always "
        "do). Changed by MSP admins on the client's sign-in security page.",
    )
    account_managers = models.ManyToManyField(
        "tenants.User",
        blank=True,
        related_name="managed_clients",
        limit_choices_to={"staff_role": StaffRole.ACCOUNT_MANAGER},
    )
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = False
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """Clone the template schema in constant time (see tenants.clone); fall back to
        django-tenants' own clone or migrations when the template cannot be cloned that way."""
        from django.conf import settings
        from django.db import connection, transaction
        from django_tenants.utils import schema_exists

        from .clone import UnsupportedTemplate, clone_schema

        template = getattr(settings, "TENANT_BASE_SCHEMA", None)
        if check_if_exists and schema_exists(self.schema_name):
            return False
        if sync_schema and template and schema_exists(template):
            try:
                with transaction.atomic():
                    clone_schema(template, self.schema_name)
            except UnsupportedTemplate:
                pass
            else:
                connection.set_schema_to_public()
                return True
        return super().create_schema(
            check_if_exists=check_if_exists, sync_schema=sync_schema, verbosity=verbosity
        )

    @property
    def tier(self) -> Tier:
        """What the client's plan includes (``tenants.tiers``)."""
        return tier_of(self)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def get_absolute_url(self) -> str:
        return f"/clients/{self.slug}/"


class Domain(DomainMixin):
    """In subfolder routing the domain is the client's slug: /clients/<domain>/."""


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True, staff_role=StaffRole.MSP_ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address: MSP staff or a client user."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    staff_role = models.CharField(max_length=20, choices=StaffRole.choices, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May sign in to the Django admin (MSP admins)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def save(self, *args, **kwargs) -> None:
        # MSP admins run the Django admin; nobody else signs in there.
        self.is_staff = self.staff_role == StaffRole.MSP_ADMIN or self.is_superuser
        super().save(*args, **kwargs)

    def has_perm(self, perm: str, obj=None) -> bool:
        if self.is_active and self.staff_role == StaffRole.MSP_ADMIN:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and self.staff_role == StaffRole.MSP_ADMIN:
            return True
        return super().has_module_perms(app_label)


class Membership(models.Model):
    """A client user's role in one client."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=MembershipRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client"],
                name="%(app_label)s_%(class)s_unique_user_client",
                violation_error_message="This user already belongs to this client.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} of {self.client}"


TOKEN_PREFIX = "po"


# What a token is for never changes after it was issued: its client, scope, owner and key.
# Revocation is final. The model, its queryset and a trigger in the database (migration
# 0003_token_guard) each refuse the change.
TOKEN_FIXED_FIELDS = ("client", "scope", "created_by", "key_id", "key_hash", "created_at")


class TokenChangeRefused(ValidationError):
    pass


def _refuse_token_update(values: dict) -> None:
    fixed = {f for f in TOKEN_FIXED_FIELDS} | {f"{f}_id" for f in ("client", "created_by")}
    changed = sorted(set(values) & fixed)
    if changed:
        raise TokenChangeRefused(
            f"A token's {', '.join(changed)} cannot change after it was issued: "
            "revoke it and issue a new one."
        )
    if "revoked_at" in values and values["revoked_at"] is None:
        raise TokenChangeRefused("A revoked token stays revoked: issue a new one.")


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)

    def update(self, **kwargs) -> int:
        _refuse_token_update(kwargs)
        if "revoked_at" in kwargs:
            # Revoking sets the time once; an already revoked token keeps its own.
            return super(ApiTokenQuerySet, self.filter(revoked_at__isnull=True)).update(**kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        _refuse_token_update({f: None for f in fields if f != "revoked_at"})
        if "revoked_at" in fields:
            raise TokenChangeRefused("Revoke tokens one by one (tenants.services).")
        return super().bulk_update(objs, fields, batch_size=batch_size)


class ApiToken(models.Model):
    """A token for an integration. Only its SHA-256 is stored; the token is shown once."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Empty for a token valid for every client.",
    )
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    created_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Who issued it (empty when issued by a command without --by).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(scope=TokenScope.AGENT) | models.Q(client__isnull=False),
                name="%(app_label)s_%(class)s_agent_needs_client",
                violation_error_message="An agent token belongs to exactly one client.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_scope_display()})"

    def save(self, *args, **kwargs) -> None:
        """A new token is saved freely; an issued one only with its name, last use, or its
        revocation changed (never un-revoked, never moved to another client, scope or owner)."""
        if self.pk is not None and not self._state.adding:
            stored = (
                type(self)
                ._base_manager.filter(pk=self.pk)
                .values("revoked_at", *[f.attname for f in self._fixed_fields()])
                .first()
            )
            if stored is not None:
                changed = {
                    f.name: getattr(self, f.attname)
                    for f in self._fixed_fields()
                    if getattr(self, f.attname) != stored[f.attname]
                }
                if stored["revoked_at"] is not None and self.revoked_at != stored["revoked_at"]:
                    changed["revoked_at"] = None
                _refuse_token_update(changed)
        super().save(*args, **kwargs)

    @classmethod
    def _fixed_fields(cls) -> list:
        return [cls._meta.get_field(name) for name in TOKEN_FIXED_FIELDS]

    # Token format: po_<key_id>_<secret>; the key id finds the row, the hash proves the secret.
    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return f"{TOKEN_PREFIX}_{key_id}_{secret}", key_id, cls.hash_secret(secret)

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, self.hash_secret(secret))

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_authenticated(self) -> bool:
        return True


class EvidenceCheckpoint(models.Model):
    """The head of a client's evidence chain as a stored report or bundle saw it.

    Kept in the public schema, out of reach of anything that can rewrite the client's schema:
    a chain that later ends before a checkpoint (its newest events deleted) or disagrees with
    one (an event rewritten) no longer verifies.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="checkpoints")
    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=200, help_text="what witnessed the head")
    reference = models.UUIDField(null=True, blank=True, help_text="the stored report's id")

    class Meta:
        ordering = ["client", "sequence"]
        indexes = [models.Index(fields=["client", "sequence"])]

    def __str__(self) -> str:
        return f"{self.client.slug} #{self.sequence} ({self.source})"


class MspProfile(models.Model):
    """The MSP itself, one row: the name and logo printed on every client's reports."""

    name = models.CharField(max_length=200, blank=True)
    logo = models.BinaryField(blank=True, default=b"", editable=False)
    logo_type = models.CharField(max_length=20, blank=True)
    logo_sha256 = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="msp_profile_one_row")]

    def __str__(self) -> str:
        return self.name or "MSP"


class ClientLogo(models.Model):
    """A client's own logo (PNG or JPEG), printed beside the MSP's on the client's reports.

    Kept apart from ``Client``, which every request loads, so the picture is read only when a
    report or the settings page needs it."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="report_logo")
    data = models.BinaryField(editable=False)
    content_type = models.CharField(max_length=20)
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"Logo of {self.client}"
