"""Forms of the register. The rules live in ``services``; the forms parse input and show the
service's field errors next to the right fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from common.limits import TEXT_MAX_LENGTH
from inventory.models import Asset
from tenants.models import Client, User

from . import services
from .choices import AccountKind, Holder, MfaState
from .models import PrivilegedAccount
from .services import AccountInput

DATE_WIDGET = {"type": "date"}


def _date(label: str, *, required: bool = False) -> forms.DateField:
    return forms.DateField(
        required=required, label=label, widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d")
    )


class SecretFreeForm(forms.Form):
    """Refuses a submission that carries a field named like a secret (nothing is saved)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            services.reject_secrets(self.data.keys())
        except ValidationError as error:
            raise ValidationError(
                [m for messages in error.message_dict.values() for m in messages]
            ) from error
        return cleaned

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, messages in error.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)


class AccountForm(SecretFreeForm):
    kind = forms.ChoiceField(choices=AccountKind.choices)
    name = forms.CharField(max_length=200)
    identifier = forms.CharField(max_length=255, help_text="User name, UPN, SID, service principal")
    held_by = forms.ChoiceField(choices=Holder.choices, label="Used by", initial=Holder.CLIENT)
    owner_user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Owner (a user of this client)",
        empty_label="— someone else (name and e-mail below) —",
    )
    owner_name = forms.CharField(max_length=150, required=False, label="Owner's name")
    owner_email = forms.EmailField(required=False, label="Owner's e-mail")
    known_by = forms.CharField(
        required=False,
        label="Who else knows the credential (one e-mail a line)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    systems = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.none(),
        required=False,
        label="Systems it reaches",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "“%(value)s” is no system of this client."},
    )
    mfa_state = forms.ChoiceField(choices=MfaState.choices, label="MFA")
    mfa_reason = forms.CharField(
        required=False,
        max_length=TEXT_MAX_LENGTH,
        label="Why MFA is not possible",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    last_rotated_on = _date("Last rotation")
    last_reviewed_on = _date("Last review")
    rotation_interval_days = forms.IntegerField(
        required=False, min_value=1, label="Rotate every (days; empty: the kind's default)"
    )
    review_interval_days = forms.IntegerField(
        required=False, min_value=1, label="Review every (days; empty: the kind's default)"
    )
    notes = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client
        self.fields["owner_user"].queryset = services.client_users(client)
        self.fields["owner_user"].label_from_instance = lambda u: f"{u.get_full_name()} <{u.email}>"
        self.fields["systems"].queryset = Asset.objects.order_by("hostname")
        self.fields["systems"].label_from_instance = lambda a: a.hostname

    @classmethod
    def initial_for(cls, account: PrivilegedAccount) -> dict[str, Any]:
        return {
            "kind": account.kind,
            "name": account.name,
            "identifier": account.identifier,
            "held_by": account.held_by,
            "owner_user": account.owner_user_id,
            "owner_name": account.owner_name,
            "owner_email": account.owner_email,
            "known_by": "\n".join(account.known_by),
            "systems": list(account.systems.values_list("pk", flat=True)),
            "mfa_state": account.mfa_state,
            "mfa_reason": account.mfa_reason,
            "last_rotated_on": account.last_rotated_on,
            "last_reviewed_on": account.last_reviewed_on,
            "rotation_interval_days": account.rotation_interval_days,
            "review_interval_days": account.review_interval_days,
            "notes": account.notes,
        }

    def to_input(self) -> AccountInput:
        d = self.cleaned_data
        return AccountInput(
            kind=d["kind"],
            name=d["name"],
            identifier=d["identifier"],
            held_by=d["held_by"],
            owner_user=d.get("owner_user"),
            owner_name=d.get("owner_name", ""),
            owner_email=d.get("owner_email", ""),
            known_by=(d.get("known_by") or "").split(),
            systems=list(d.get("systems") or []),
            mfa_state=d["mfa_state"],
            mfa_reason=d.get("mfa_reason", ""),
            last_rotated_on=d.get("last_rotated_on"),
            last_reviewed_on=d.get("last_reviewed_on"),
            rotation_interval_days=d.get("rotation_interval_days"),
            review_interval_days=d.get("review_interval_days"),
            notes=d.get("notes", ""),
        )


class DatedActionForm(SecretFreeForm):
    """Record a rotation, a review or a break-glass use."""

    on = _date("On", required=True)
    note = forms.CharField(required=False, max_length=TEXT_MAX_LENGTH)


class ReasonForm(SecretFreeForm):
    reason = forms.CharField(max_length=TEXT_MAX_LENGTH)


class LeaverForm(SecretFreeForm):
    email = forms.EmailField(label="Leaver's e-mail")
    name = forms.CharField(max_length=150, required=False, label="Leaver's name")
    left_on = _date("Leaves (or left) on", required=True)


class TickForm(SecretFreeForm):
    note = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        label="What was done",
        widget=forms.TextInput(attrs={"size": 50}),
    )


class GraceForm(SecretFreeForm):
    grace_days = forms.IntegerField(
        min_value=0, max_value=services.MAX_GRACE_DAYS, label="Grace days before the SLA breaches"
    )
