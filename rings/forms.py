"""Forms of the rings pages."""

from __future__ import annotations

from django import forms

from common.limits import TEXT_MAX_LENGTH
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
        required=False,
        max_length=TEXT_MAX_LENGTH,
        help_text="Comma-separated: KB5034441, USN-6591-1 …",
    )
    os_family = forms.ChoiceField(choices=[("", "—"), *OsFamily.choices], required=False)
    expedite = forms.BooleanField(
        required=False,
        label="Expedite (emergency lane)",
        help_text="Critical and KEV findings due before the rings' combined soak ends: shortened "
        "soak, every wave approved by a person, deploys without waiting for a window.",
    )
    expedite_reason = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, label="Why expedite", widget=forms.TextInput
    )
    soak_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=720,
        label="Expedited soak (hours per ring)",
        help_text="Leave empty for a share that fits before the earliest due time.",
    )

    def clean(self):
        data = super().clean()
        if data.get("expedite") and not (data.get("expedite_reason") or "").strip():
            self.add_error("expedite_reason", "Say why this rollout is expedited.")
        return data

    def identifiers(self) -> list[str]:
        raw = self.cleaned_data.get("patch_identifiers") or ""
        return [p.strip() for p in raw.split(",") if p.strip()]


class HaltForm(forms.Form):
    reason = forms.CharField(max_length=TEXT_MAX_LENGTH)


class RollbackForm(forms.Form):
    """Empty ``outcome``: queue rollback jobs; an outcome records a rollback done by hand."""

    wave = forms.UUIDField(required=False)
    what = forms.CharField(max_length=TEXT_MAX_LENGTH)
    outcome = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Queue rollback jobs (agents or RMM)"),
            *[
                (v, f"Done by hand: {label.lower()}")
                for v, label in RollbackOutcome.choices
                if v != RollbackOutcome.PENDING
            ],
        ],
    )


class ResumeForm(forms.Form):
    reason = forms.CharField(max_length=TEXT_MAX_LENGTH)


class WaveForm(forms.Form):
    wave = forms.UUIDField()


class RunbookForm(forms.Form):
    wave = forms.UUIDField()
    check = forms.UUIDField()
    passed = forms.TypedChoiceField(
        choices=[("1", "Pass"), ("0", "Fail")], coerce=lambda v: v == "1"
    )
    note = forms.CharField(required=False, max_length=TEXT_MAX_LENGTH)
