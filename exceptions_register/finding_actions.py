"""“Request an exception” on the findings pages (``findings.hooks.FindingAction``): a deferral
of the chosen findings, sent to the client owner named for sign-off (the register's service
decides every field)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from exceptions_register import services
from exceptions_register.choices import ExceptionKind
from findings.hooks import FindingAction
from tenants.models import User


class DeferralForm(forms.Form):
    """Parses the inputs only (names ``exception-…``); the service validates them."""

    reason = forms.CharField(required=False, max_length=2000)
    ticket_reference = forms.CharField(required=False, max_length=100)
    expires_at = forms.DateTimeField(
        required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
    )
    approver = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        error_messages={"invalid_choice": services.APPROVER_NOT_OWNER},
    )

    def __init__(self, *args: Any, client: Any, **kwargs: Any) -> None:
        super().__init__(*args, prefix="exception", **kwargs)
        self.fields["approver"].queryset = services.client_owners(client=client)


def _context(*, client: Any) -> dict[str, Any]:
    return {"exception_owners": list(services.client_owners(client=client).order_by("email"))}


def run(*, client: Any, findings: list[Any], data: Any, actor: Any, at: datetime):
    form = DeferralForm(data, client=client)
    if not form.is_valid():
        raise ValidationError({f"exception {name}": errors for name, errors in form.errors.items()})
    cleaned = form.cleaned_data
    exception = services.request_exception(
        client=client,
        actor=actor,
        data=services.ExceptionInput(
            kind=ExceptionKind.DEFERRAL,
            reason=cleaned.get("reason") or "",
            ticket_reference=cleaned.get("ticket_reference") or "",
            expires_at=cleaned.get("expires_at"),
            approver=cleaned.get("approver"),
            findings=findings,
        ),
    )
    message = (
        f"Exception requested for {len(findings)} finding(s); it awaits "
        f"{exception.approver.email}'s signature."
    )
    return message, reverse("exceptions_register:exception_detail", kwargs={"uuid": exception.uuid})


ACTION = FindingAction(
    key="exception",
    label="Request an exception",
    run=run,
    fields_template="exceptions_register/partials/_finding_action_exception.html",
    order=20,
    context=_context,
)
