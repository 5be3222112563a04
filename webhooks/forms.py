"""Forms of the webhook pages (the services validate; the forms shape the input)."""

from __future__ import annotations

from django import forms

from .choices import WebhookEvent


class EndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=1000, help_text="https:// — PatchOps POSTs here.")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)


class TestForm(forms.Form):
    """The client an MSP endpoint's test is sent as (its envelope names one client)."""

    client = forms.SlugField(max_length=48)
