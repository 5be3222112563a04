"""Forms of the integrations pages: the client's PSA and RMM connections."""

from __future__ import annotations

from django import forms

from .models import PsaConnection, RmmConnection

SEVERITIES = [(s, s.title()) for s in ("critical", "high", "medium", "low")]


class PsaConnectionForm(forms.ModelForm):
    """Secrets are never shown back: the fields start empty, and left empty keep their value."""

    api_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        max_length=500,
        help_text="ConnectWise: private key; Autotask: Secret; HaloPSA: client secret. "
        "Leave empty to keep the saved one.",
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        max_length=500,
        help_text="ConnectWise: callback signing key; Autotask: webhook SecretKey; HaloPSA: "
        "webhook Basic password. Leave empty to keep the saved one.",
    )
    base_url = forms.URLField(assume_scheme="https", max_length=200)
    overdue_min_severity = forms.ChoiceField(choices=SEVERITIES)
    priority_map = forms.JSONField(
        required=False, help_text='e.g. {"critical": "1", "high": "2", "medium": "3", "low": "4"}'
    )
    status_map = forms.JSONField(
        required=False, help_text="PSA status id or name → open / in_progress / closed."
    )

    class Meta:
        model = PsaConnection
        fields = [
            "name",
            "kind",
            "base_url",
            "login_company",
            "api_user",
            "api_secret",
            "app_id",
            "company_ref",
            "board_ref",
            "new_status_ref",
            "closed_status_ref",
            "priority_map",
            "status_map",
            "tickets_for_overdue",
            "overdue_min_severity",
            "tickets_for_exceptions",
            "webhook_username",
            "webhook_secret",
            "poll",
            "max_attempts",
            "is_active",
        ]


class AgentInstallerForm(forms.Form):
    """Issue an agent token for an installer (its name defaults to "Agent installer <date>")."""

    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="What the token is for, e.g. the site or the batch of devices",
    )


class RmmConnectionForm(forms.ModelForm):
    """The API key is never shown back: the field starts empty, and left empty keeps it."""

    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        max_length=500,
        help_text="Tactical RMM: Settings → Global Settings → API Keys. Leave empty to keep the "
        "saved one.",
    )
    base_url = forms.URLField(
        assume_scheme="https",
        max_length=200,
        help_text="The API root, e.g. https://api.rmm.example.com",
    )

    class Meta:
        model = RmmConnection
        fields = ["name", "kind", "base_url", "api_key", "site_filter", "timeout_seconds"]
        fields += ["is_enabled"]


class ScanSubnetForm(forms.Form):
    """Designate a managed asset with an agent as the scanner of a subnet (the rules are the
    service's: ``integrations.scans.designate_scanner``)."""

    scanner = forms.ModelChoiceField(
        queryset=None,
        to_field_name="uuid",
        help_text="A managed asset whose discovery agent runs nmap.",
    )
    cidr = forms.CharField(
        label="Subnet", max_length=64, help_text="CIDR, e.g. 10.20.0.0/24 (at most a /16)."
    )
    top_ports = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        help_text="Scan Nmap's N most common ports (100 when no port list is given).",
    )
    ports = forms.CharField(
        required=False, max_length=200, help_text="Or these ports, e.g. 22,80,443,8000-8100."
    )
    timing = forms.TypedChoiceField(
        coerce=int,
        initial=3,
        choices=[(n, f"-T{n}") for n in range(6)],
        help_text="Nmap's timing template: 0 slowest, 3 normal, 5 fastest.",
    )

    def __init__(self, *args, scanners=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scanner"].queryset = scanners
