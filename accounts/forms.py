"""Forms of the account pages: invitations, accepting one, password reset by the house mailer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm

from common.emails import send_templated
from tenants.choices import MembershipRole, StaffRole
from tenants.models import Client, User

ACTIONS = ("invite", "role", "remove", "withdraw", "deactivate")


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="E-mail address")
    role = forms.ChoiceField(choices=MembershipRole.choices, initial=MembershipRole.CLIENT_VIEWER)


class MemberActionForm(forms.Form):
    """The small forms of the People page's rows: which action, on whom, to which role."""

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    user = forms.UUIDField(required=False)
    invitation = forms.UUIDField(required=False)
    role = forms.ChoiceField(choices=MembershipRole.choices, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action in ("role", "remove", "deactivate") and not data.get("user"):
            raise forms.ValidationError("Choose a person.")
        if action == "role" and not data.get("role"):
            raise forms.ValidationError("Choose a role.")
        if action == "withdraw" and not data.get("invitation"):
            raise forms.ValidationError("Choose an invitation.")
        return data


class StaffInviteForm(forms.Form):
    """The Users page's invitation to the MSP's staff."""

    email = forms.EmailField(max_length=254, label="E-mail address")
    role = forms.ChoiceField(choices=StaffRole.choices, initial=StaffRole.ENGINEER)


STAFF_ACTIONS = ("withdraw", "staff_role", "clients", "deactivate")


class StaffActionForm(forms.Form):
    """The small forms of the Users page's rows: which action, on whom, to which role or
    which clients (an account manager's)."""

    action = forms.ChoiceField(choices=[(a, a) for a in STAFF_ACTIONS])
    user = forms.UUIDField(required=False)
    invitation = forms.UUIDField(required=False)
    role = forms.ChoiceField(choices=StaffRole.choices, required=False)
    clients = forms.ModelMultipleChoiceField(
        queryset=Client.objects.exclude(schema_name="public"),
        to_field_name="uuid",
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action in ("staff_role", "clients", "deactivate") and not data.get("user"):
            raise forms.ValidationError("Choose a person.")
        if action == "staff_role" and not data.get("role"):
            raise forms.ValidationError("Choose a role.")
        if action == "withdraw" and not data.get("invitation"):
            raise forms.ValidationError("Choose an invitation.")
        return data


class AcceptInvitationForm(forms.Form):
    """A new account's name and its own password (Django's password validators)."""

    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            candidate = User(email=self.email, full_name=data.get("full_name", ""))
            try:
                password_validation.validate_password(first, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class HousePasswordResetForm(PasswordResetForm):
    """Django's reset form (only active accounts with a usable password get a mail), sent
    through the house mailer as text and HTML."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        send_templated(template="accounts/emails/password_reset", to=[to_email], context=context)
