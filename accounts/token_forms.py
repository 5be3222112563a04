"""The form of the client's API tokens page."""

from __future__ import annotations

from django import forms

from tenants.choices import TokenScope


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. psa-prod or the RMM")
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        help_text="read: reads; write: reads and operates; agent: pushes discovery and runs jobs",
    )


class MspTokenForm(TokenForm):
    """A token valid for every client: read or read and write (an agent token belongs to one
    client)."""

    scope = forms.ChoiceField(
        choices=[c for c in TokenScope.choices if c[0] != TokenScope.AGENT],
        help_text="read: reads every client; write: reads and operates on every client",
    )
