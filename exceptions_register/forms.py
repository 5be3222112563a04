"""Forms of the register. Business rules live in ``services.validate_exception_input``; the form
only parses input and shows the service's field errors next to the right fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from common.limits import TEXT_MAX_LENGTH
from findings.models import Finding
from inventory.models import Asset
from tenants.models import Client, User

from . import services
from .choices import ControlKind, ExceptionKind, SignatureMethod
from .models import RiskException
from .services import ControlInput, ExceptionInput
from .signing import SigningFactor

CONTROL_ROWS = 3
FIELD_MAP = {"compensating_controls": "control_description_0"}


class ExceptionForm(forms.Form):
    kind = forms.ChoiceField(choices=ExceptionKind.choices, initial=ExceptionKind.DEFERRAL)
    ticket_reference = forms.CharField(required=False, max_length=100, label="PSA ticket reference")
    reason = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4})
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Hard expiry",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    approver = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Client owner who signs",
        error_messages={"invalid_choice": services.APPROVER_NOT_OWNER},
    )
    assets = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    findings = forms.ModelMultipleChoiceField(
        queryset=Finding.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client
        # Entered and shown in the client's time zone (the page runs in it).
        self.fields["expires_at"].label = f"Hard expiry ({client.timezone} time)"
        self.fields["approver"].queryset = services.client_owners(client=client).order_by("email")
        self.fields["approver"].label_from_instance = lambda u: f"{u.get_full_name()} <{u.email}>"
        self.fields["assets"].queryset = Asset.objects.order_by("hostname")
        self.fields["findings"].queryset = Finding.objects.select_related("asset").order_by(
            "asset__hostname", "patch_identifier"
        )
        self.fields["findings"].label_from_instance = lambda f: (
            f"{f.patch_identifier} on {f.asset.hostname} ({f.get_state_display()})"
        )
        for i in range(CONTROL_ROWS):
            self.fields[f"control_kind_{i}"] = forms.ChoiceField(
                choices=[("", "—"), *ControlKind.choices],
                required=False,
                label="Control",
                widget=forms.Select(attrs={"aria-label": f"Compensating control {i + 1}: kind"}),
            )
            self.fields[f"control_description_{i}"] = forms.CharField(
                required=False,
                max_length=TEXT_MAX_LENGTH,
                label="Description",
                widget=forms.TextInput(
                    attrs={"size": 60, "aria-label": f"Compensating control {i + 1}: description"}
                ),
            )

    @property
    def control_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"control_kind_{i}"], self[f"control_description_{i}"])
            for i in range(CONTROL_ROWS)
        ]

    def to_input(self) -> ExceptionInput:
        data = self.cleaned_data
        controls = []
        for i in range(CONTROL_ROWS):
            kind = data.get(f"control_kind_{i}") or ""
            description = (data.get(f"control_description_{i}") or "").strip()
            if kind or description:
                controls.append(
                    ControlInput(kind=kind or ControlKind.OTHER, description=description)
                )
        return ExceptionInput(
            kind=data.get("kind") or "",
            reason=data.get("reason") or "",
            ticket_reference=data.get("ticket_reference") or "",
            expires_at=data.get("expires_at"),
            approver=data.get("approver"),
            assets=list(data.get("assets") or []),
            findings=list(data.get("findings") or []),
            controls=controls,
        )

    def add_service_errors(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                target = FIELD_MAP.get(field, field)
                for message in messages:
                    self.add_error(target if target in self.fields else None, message)
        else:
            for message in error.messages:
                self.add_error(None, message)

    @classmethod
    def initial_from(cls, exception: RiskException) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "kind": exception.kind,
            "ticket_reference": exception.ticket_reference,
            "reason": exception.reason,
            "expires_at": exception.expires_at,
            "approver": exception.approver_id,
            "assets": list(exception.assets.values_list("pk", flat=True)),
            "findings": list(exception.findings.values_list("pk", flat=True)),
        }
        for i, control in enumerate(exception.controls.all()[:CONTROL_ROWS]):
            initial[f"control_kind_{i}"] = control.kind
            initial[f"control_description_{i}"] = control.description
        return initial


class DecisionForm(forms.Form):
    """The owner re-enters their password to sign or reject the exact text shown; signing also
    takes their second factor: a passkey assertion (filled in by static/js/passkeys.js) or a
    code from their authenticator app."""

    decision = forms.ChoiceField(choices=[("sign", "Sign"), ("reject", "Reject")])
    password = forms.CharField(
        max_length=4096, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    text_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    reason = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )
    passkey_assertion = forms.CharField(required=False, max_length=16384, widget=forms.HiddenInput)
    totp_code = forms.CharField(
        required=False,
        max_length=12,
        label="Code from your authenticator app",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    def factor(self) -> SigningFactor | None:
        """The second factor given (a passkey assertion wins over a code), or None."""
        data = self.cleaned_data
        if data.get("passkey_assertion"):
            return SigningFactor(
                method=SignatureMethod.PASSKEY, assertion=data["passkey_assertion"]
            )
        if (data.get("totp_code") or "").strip():
            return SigningFactor(method=SignatureMethod.TOTP, code=data["totp_code"])
        return None


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))
