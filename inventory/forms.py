"""Forms of the inventory pages. Writes go through ``inventory.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction

from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH
from evidence.services import record_event

from .choices import AssetRole, DataFlow
from .models import AssetClass, Site, SoftwarePolicy

__all__ = [
    "EPHI_CHOICES",
    "TagForm",
    "AssetEditForm",
    "BulkTagForm",
    "AdoptForm",
    "DismissForm",
    "ScheduleForm",
    "PolicyForm",
    "ReviewForm",
]

# One spelling of the ePHI label everywhere: "ePHI system: yes/no".
EPHI_CHOICES = [("", "Leave unchanged"), ("yes", "ePHI system: yes"), ("no", "ePHI system: no")]
WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class TagForm(forms.Form):
    """The ePHI flag and data-flow tags of one asset."""

    is_ephi = forms.TypedChoiceField(
        label="ePHI system",
        choices=[("yes", "ePHI system: yes"), ("no", "ePHI system: no")],
        coerce=lambda v: v == "yes",
    )
    data_flows = forms.MultipleChoiceField(
        label="Sensitive-data flow",
        choices=DataFlow.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class AssetEditForm(forms.Form):
    """What people decide about one asset: class, role, owner, location, site, ePHI, data flows.

    A field the request leaves out keeps the asset's value (``for_asset``), except the
    data-flow checkboxes: none ticked is no data flow, as a browser sends it."""

    asset_class = forms.ModelChoiceField(
        label="Class", queryset=AssetClass.objects.all(), to_field_name="key", empty_label=None
    )
    role = forms.ChoiceField(label="Role", choices=AssetRole.choices)
    owner = forms.CharField(label="Owner", max_length=200, required=False)
    location = forms.CharField(label="Location", max_length=200, required=False)
    site = forms.ModelChoiceField(
        label="Site",
        queryset=Site.objects.all(),
        to_field_name="name",
        required=False,
        empty_label="No site",
    )
    is_ephi = forms.TypedChoiceField(
        label="ePHI system",
        choices=[("yes", "ePHI system: yes"), ("no", "ePHI system: no")],
        coerce=lambda v: v == "yes",
    )
    data_flows = forms.MultipleChoiceField(
        label="Sensitive-data flow",
        choices=DataFlow.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The class and site choices in one query each (the model iterator counts, then reads).
        self.fields["asset_class"].choices = list(AssetClass.objects.values_list("key", "name"))
        self.fields["site"].choices = [
            ("", "No site"),
            *((n, n) for n in Site.objects.values_list("name", flat=True)),
        ]

    @staticmethod
    def initial_for(asset: Any) -> dict[str, Any]:
        return {
            "asset_class": asset.asset_class.key,
            "role": asset.role,
            "owner": asset.owner,
            "location": asset.location,
            "site": asset.site.name if asset.site_id else "",
            "is_ephi": "yes" if asset.is_ephi else "no",
            "data_flows": list(asset.data_flows),
        }

    @classmethod
    def for_asset(cls, asset: Any, data: Any = None) -> AssetEditForm:
        if data is None:
            return cls(initial=cls.initial_for(asset))
        merged = data.copy()
        for name, value in cls.initial_for(asset).items():
            if name != "data_flows" and name not in data:
                merged[name] = value
        return cls(merged)

    def values(self) -> dict[str, Any]:
        """The cleaned values as ``inventory.services.update_asset_attributes`` takes them."""
        data = dict(self.cleaned_data)
        data["asset_class"] = data["asset_class"].key
        return data


class BulkTagForm(forms.Form):
    """Tags applied to the selected rows of the asset list."""

    assets = forms.MultipleChoiceField(choices=[], error_messages={"required": "Select assets."})
    is_ephi = forms.ChoiceField(label="ePHI system", choices=EPHI_CHOICES, required=False)
    set_flows = forms.BooleanField(label="Set data flows", required=False)
    data_flows = forms.MultipleChoiceField(
        label="Sensitive-data flow",
        choices=DataFlow.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, asset_ids: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assets"].choices = [(a, a) for a in asset_ids or []]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("is_ephi") and not data.get("set_flows"):
            raise forms.ValidationError(
                "Choose an ePHI system value or tick “Set data flows” (nothing would change)."
            )
        return data

    @property
    def ephi_value(self) -> bool | None:
        value = self.cleaned_data.get("is_ephi")
        return None if not value else value == "yes"

    @property
    def flows_value(self) -> list[str] | None:
        return self.cleaned_data["data_flows"] if self.cleaned_data.get("set_flows") else None


class AdoptForm(forms.Form):
    hostname = forms.CharField(max_length=255, required=False)
    asset_class = forms.ModelChoiceField(
        queryset=AssetClass.objects.all(), to_field_name="key", empty_label=None
    )
    role = forms.ChoiceField(choices=AssetRole.choices, initial=AssetRole.OTHER)
    os_family = forms.ChoiceField(label="OS family", choices=OsFamily.choices, initial="other")
    site = forms.ModelChoiceField(queryset=Site.objects.all(), required=False, to_field_name="uuid")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["asset_class"].initial = AssetClass.WORKSTATION
        # The unknown-device list renders this form once per device: read the choices once.
        for name in ("asset_class", "site"):
            self.fields[name].choices = list(self.fields[name].choices)


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "A reason is required to dismiss a device."},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required to dismiss a device.")
        return reason


class ScheduleForm(forms.Form):
    local_hour = forms.IntegerField(label="Hour (client time)", min_value=0, max_value=23)
    weekday = forms.TypedChoiceField(label="Weekday (weekly cadence)", choices=WEEKDAYS, coerce=int)
    is_enabled = forms.BooleanField(label="Enabled", required=False)


class PolicyForm(forms.ModelForm):
    class Meta:
        model = SoftwarePolicy
        fields = ["name_pattern", "is_supported", "notes"]
        labels = {"name_pattern": "Name pattern (glob, e.g. Adobe Acrobat*)"}
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def save_recorded(self, *, actor: Any) -> SoftwarePolicy:
        """Save the row and record the change in the evidence log, in one transaction."""
        created = self.instance.pk is None
        with transaction.atomic():
            policy = self.save()
            record_event(
                kind="software_policy.created" if created else "software_policy.changed",
                subject_type="software_policy",
                subject_id=policy.uuid,
                actor=actor,
                payload={
                    "name_pattern": policy.name_pattern,
                    "is_supported": policy.is_supported,
                    "changed": sorted(self.changed_data),
                },
            )
        return policy


class ReviewForm(forms.Form):
    notes = forms.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
