"""Forms of the rings pages."""

from __future__ import annotations

from django import forms

from inventory.choices import OsFamily

from .choices import RollbackOutcome, RolloutSelection
from .models import MaintenanceWindow, Ring


class RingForm(forms.ModelForm):
    class Meta:
        model = Ring
        fields = [
            "name",
            "soak_hours",
            "failure_threshold_pct",
            "approver_role",
            "fleet_percent",
            "canary_size",
            "verify_timeout_hours",
        ]


class MaintenanceWindowForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=[(i, d) for i, d in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = MaintenanceWindow
        fields = [
            "name",
            "scope",
            "site",
            "asset_class",
            "recurrence",
            "weekdays",
            "day_of_month",
            "nth",
            "weekday",
            "offset_days",
            "start_time",
            "duration_minutes",
            "is_active",
        ]
        widgets = {"start_time": forms.TimeInput(attrs={"type": "time"})}


class RolloutCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    selection = forms.ChoiceField(
        choices=[c for c in RolloutSelection.choices if c[0] != RolloutSelection.FINDINGS]
    )
    patch_identifiers = forms.CharField(
        required=False, help_text="Comma-separated: KB5034441, USN-6591-1 …"
    )
    os_family = forms.ChoiceField(choices=[("", "—"), *OsFamily.choices], required=False)

    def identifiers(self) -> list[str]:
        raw = self.cleaned_data.get("patch_identifiers") or ""
        return [p.strip() for p in raw.split(",") if p.strip()]


class HaltForm(forms.Form):
    reason = forms.CharField(max_length=2000)


class RollbackForm(forms.Form):
    wave = forms.UUIDField(required=False)
    what = forms.CharField(max_length=2000)
    outcome = forms.ChoiceField(choices=RollbackOutcome.choices)


class WaveForm(forms.Form):
    wave = forms.UUIDField()


class RunbookForm(forms.Form):
    wave = forms.UUIDField()
    check = forms.UUIDField()
    passed = forms.TypedChoiceField(
        choices=[("1", "Pass"), ("0", "Fail")], coerce=lambda v: v == "1"
    )
    note = forms.CharField(required=False, max_length=2000)
