"""Privileged account register (tenant schema): the accounts, never their secrets.

There is deliberately no column for a password, key or token: the register records who owns an
account, what it reaches, whether a second factor guards it and when its credential was last
rotated and reviewed. Overdue rotations and reviews are ``PrivilegedAccountIssue`` rows with their
own SLA (they are no patch findings); leavers get an ``OffboardingChecklist``.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from common.limits import TEXT_MAX_LENGTH

from .choices import (
    DEFAULT_GRACE_DAYS,
    AccountKind,
    ChecklistSource,
    ChecklistState,
    Holder,
    IssueKind,
    IssueState,
    ItemAction,
    MfaState,
)

__all__ = [
    "RegisterSettings",
    "PrivilegedAccount",
    "PrivilegedAccountIssue",
    "OffboardingChecklist",
    "OffboardingItem",
]


class RegisterSettings(models.Model):
    """This client's register settings (one row per schema)."""

    grace_days = models.PositiveSmallIntegerField(
        default=DEFAULT_GRACE_DAYS,
        help_text="Days an overdue rotation or review may stay open before it breaches its SLA.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "register settings"

    def __str__(self) -> str:
        return f"Grace {self.grace_days} days"


class PrivilegedAccount(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    name = models.CharField(max_length=200)
    identifier = models.CharField(
        max_length=255, help_text="How the systems know it: user name, UPN, SID, service principal."
    )
    held_by = models.CharField(max_length=10, choices=Holder.choices, default=Holder.CLIENT)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        help_text="The owner when they are a user of the portal.",
    )
    owner_name = models.CharField(max_length=150)
    owner_email = models.EmailField()
    known_by = ArrayField(
        models.EmailField(),
        default=list,
        blank=True,
        help_text="E-mail addresses of the people who know a shared credential (lower case).",
    )
    systems = models.ManyToManyField("inventory.Asset", blank=True, related_name="+")
    mfa_state = models.CharField(max_length=20, choices=MfaState.choices)
    mfa_reason = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    last_rotated_on = models.DateField(null=True, blank=True)
    last_reviewed_on = models.DateField(null=True, blank=True)
    last_used_on = models.DateField(
        null=True, blank=True, help_text="Last break-glass use (a rotation is due after it)."
    )
    rotation_interval_days = models.PositiveSmallIntegerField()
    review_interval_days = models.PositiveSmallIntegerField()
    rotate_after_use = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rotation_interval_days__gt=0) & Q(review_interval_days__gt=0),
                name="privileged_intervals_positive",
            ),
            models.CheckConstraint(
                condition=~Q(mfa_state=MfaState.NOT_POSSIBLE) | ~Q(mfa_reason=""),
                name="privileged_mfa_not_possible_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    @property
    def mfa_covered(self) -> bool:
        return self.mfa_state == MfaState.ENFORCED

    def rotation_due_on(self) -> date | None:
        """When the credential must be rotated next (None when it never was)."""
        if self.last_rotated_on is None:
            return None
        due = self.last_rotated_on + timedelta(days=self.rotation_interval_days)
        if self.rotate_after_use and self.last_used_on and self.last_used_on > self.last_rotated_on:
            due = min(due, self.last_used_on)
        return due

    def review_due_on(self) -> date | None:
        if self.last_reviewed_on is None:
            return None
        return self.last_reviewed_on + timedelta(days=self.review_interval_days)


class PrivilegedAccountIssue(models.Model):
    """An overdue rotation or review: one per account, kind and due date (detection is
    idempotent); open until the rotation or review is recorded or the account is disabled."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(PrivilegedAccount, on_delete=models.CASCADE, related_name="issues")
    kind = models.CharField(max_length=20, choices=IssueKind.choices)
    due_on = models.DateField(help_text="When the rotation or review was due.")
    resolve_by = models.DateField(help_text="The SLA: the due date plus the client's grace days.")
    state = models.CharField(max_length=10, choices=IssueState.choices, default=IssueState.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["resolve_by", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "due_on"], name="privileged_issue_once_per_due_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.account.name} (due {self.due_on})"


class OffboardingChecklist(models.Model):
    """What has to happen to the privileged accounts when a person leaves."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person_email = models.EmailField()
    person_name = models.CharField(max_length=150, blank=True)
    person_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    source = models.CharField(max_length=20, choices=ChecklistSource.choices)
    left_on = models.DateField()
    started_by = models.CharField(max_length=254)
    state = models.CharField(
        max_length=10, choices=ChecklistState.choices, default=ChecklistState.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["person_email"],
                condition=Q(state="open"),
                name="privileged_one_open_checklist_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Offboarding {self.person_name or self.person_email}"


class OffboardingItem(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    checklist = models.ForeignKey(
        OffboardingChecklist, on_delete=models.CASCADE, related_name="items"
    )
    account = models.ForeignKey(
        PrivilegedAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20, choices=ItemAction.choices)
    order = models.PositiveSmallIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    done_by_label = models.CharField(max_length=254, blank=True)
    note = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["checklist", "account", "action"], name="privileged_item_once"
            )
        ]

    def __str__(self) -> str:
        target = self.account.name if self.account else "personal"
        return f"{self.get_action_display()}: {target}"
