from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    """One code: six digits from the authenticator app, or (where allowed) a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        error_messages={"required": "Enter the code from your authenticator app."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class ViewerRequirementForm(forms.Form):
    required = forms.TypedChoiceField(
        label="Client viewers",
        choices=[("yes", "must sign in with a second factor"), ("no", "may sign in without one")],
        coerce=lambda v: v == "yes",
        error_messages={"required": "Choose whether viewers need a second factor."},
    )
