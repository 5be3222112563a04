from __future__ import annotations

from django import forms

from catalogue.choices import ImportKind
from inventory.parsers import PARSERS


class InventoryUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="Nmap XML (-oX), a CSV inventory, systeminfo or wmic qfe output, a dpkg "
        "package list or osquery JSON.",
    )
    format = forms.ChoiceField(
        label="Format",
        required=False,
        choices=[("", "Tell by the content")]
        + [(name, f"{name} — {spec.description}") for name, spec in sorted(PARSERS.items())],
    )
    hostname = forms.CharField(
        label="Host name",
        required=False,
        max_length=255,
        help_text="For a file of one host that does not name it (a dpkg list), or names it "
        "with a placeholder such as localhost.",
    )


class CatalogueUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="Catalogue",
        choices=[("", "Choose…")] + list(ImportKind.choices),
    )
    file = forms.FileField(
        label="File",
        help_text="The feed file as published (JSON, CSV, gzip or XML); OSV and CVE 5 records "
        "also as a ZIP archive of their JSON files.",
    )
