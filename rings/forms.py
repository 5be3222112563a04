"""Forms of the rings pages."""

from __future__ import annotations

from django import forms

from catalogue.choices import SeverityTier
from common.choices import OsFamily
from common.limits import TEXT_MAX_LENGTH
from inventory.models import AssetClass
from policytemplates.choices import WEEKDAYS, PolicySchedule
from policytemplates.models import PolicyTemplate
from tenants.models import Client

from . import windows
from .choices import RollbackOutcome, RolloutSelection, WindowRecurrence, WindowScope
from .models import MaintenanceWindow, PatchPolicy, Ring


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


_DAYS = [(i, d) for i, d in enumerate(windows.DAY_NAMES)]

# The fields that belong to one recurrence (or scope): the form shows only the chosen one's
# (``static/js/window_form.js``), and ``clean`` clears the others whatever was posted, so the
# form behaves the same without scripts.
RECURRENCE_FIELDS = {
    "weekdays": (WindowRecurrence.WEEKLY,),
    "day_of_month": (WindowRecurrence.MONTHLY_DAY,),
    "nth": (WindowRecurrence.MONTHLY_NTH_WEEKDAY,),
    "weekday": (WindowRecurrence.MONTHLY_NTH_WEEKDAY,),
    "offset_days": (WindowRecurrence.PATCH_TUESDAY,),
}
SCOPE_FIELDS = {"site": (WindowScope.SITE,), "asset_class": (WindowScope.ASSET_CLASS,)}
_CLEARED = {
    "weekdays": [],
    "day_of_month": None,
    "nth": None,
    "weekday": None,
    "offset_days": 0,
    "site": None,
    "asset_class": None,
}


class MaintenanceWindowForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=_DAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Days",
    )
    nth = forms.TypedChoiceField(
        choices=[("", "—"), *[(n, label) for n, label in windows.ORDINALS.items()]],
        coerce=int,
        empty_value=None,
        required=False,
        label="Which one",
    )
    weekday = forms.TypedChoiceField(
        choices=[("", "—"), *_DAYS], coerce=int, empty_value=None, required=False, label="Day"
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
        widgets = {"start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}
        labels = {
            "day_of_month": "Day of the month",
            "offset_days": "Days after Patch Tuesday",
            "duration_minutes": "Duration (minutes)",
            "is_active": "Active",
        }
        help_texts = {"offset_days": "-7 to 20; 0 is Patch Tuesday itself."}

    def clean(self):
        data = super().clean()
        recurrence, scope = data.get("recurrence"), data.get("scope")
        for name, kinds in RECURRENCE_FIELDS.items():
            if recurrence and recurrence not in kinds:
                data[name] = _CLEARED[name]
                self.errors.pop(name, None)
        for name, kinds in SCOPE_FIELDS.items():
            if scope and scope not in kinds:
                data[name] = _CLEARED[name]
                self.errors.pop(name, None)
        return data

    def rows(self) -> list[tuple[forms.BoundField, str, str]]:
        """Each field with the control it depends on and the values that show it."""
        out = []
        for field in self:
            if field.name in RECURRENCE_FIELDS:
                out.append((field, "recurrence", " ".join(RECURRENCE_FIELDS[field.name])))
            elif field.name in SCOPE_FIELDS:
                out.append((field, "scope", " ".join(SCOPE_FIELDS[field.name])))
            else:
                out.append((field, "", ""))
        return out


class RolloutCreateForm(forms.Form):
    """A new rollout. ``patch_rows`` (``rings.selectors.patch_choices``) are the open patches a
    person ticks in the list; typed identifiers add to them."""

    name = forms.CharField(max_length=200)
    selection = forms.ChoiceField(
        choices=[c for c in RolloutSelection.choices if c[0] != RolloutSelection.FINDINGS],
        initial=RolloutSelection.PATCH_IDENTIFIERS,
    )
    patches = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Patches",
        error_messages={"invalid_choice": "“%(value)s” is not a patch with open findings."},
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

    def __init__(self, *args, patch_rows: list[dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.patch_rows = patch_rows or []
        self.fields["patches"].choices = [
            (row["patch_identifier"], row["patch_identifier"]) for row in self.patch_rows
        ]

    def clean(self):
        data = super().clean()
        if data.get("expedite") and not (data.get("expedite_reason") or "").strip():
            self.add_error("expedite_reason", "Say why this rollout is expedited.")
        if data.get("patches") and data.get("selection") != RolloutSelection.PATCH_IDENTIFIERS:
            self.add_error(
                "patches",
                "Ticked patches go with the selection “Chosen patch identifiers”; untick them "
                "or change the selection.",
            )
        return data

    def identifiers(self) -> list[str]:
        raw = self.cleaned_data.get("patch_identifiers") or ""
        typed = [p.strip() for p in raw.split(",") if p.strip()]
        ticked = list(self.cleaned_data.get("patches") or [])
        return list(dict.fromkeys([*ticked, *typed]))


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


# --- patch policies ----------------------------------------------------------------------------


class _RuleFields(forms.ModelForm):
    """The rule fields a policy and a template share, with widgets a person can use."""

    tiers = forms.MultipleChoiceField(
        choices=SeverityTier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Severity tiers",
    )
    os_families = forms.MultipleChoiceField(
        choices=OsFamily.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="OS families",
        help_text="None ticked: every family.",
    )
    weekday = forms.TypedChoiceField(
        choices=[("", "—"), *WEEKDAYS],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="For a weekly policy.",
    )

    def clean(self):
        data = super().clean()
        # The form shows both schedules' fields: only the chosen schedule's count.
        if data.get("schedule") == PolicySchedule.PATCH_TUESDAY:
            data["weekday"] = None
        elif data.get("schedule") == PolicySchedule.WEEKLY:
            data["offset_days"] = 0
        return data


_RULE_WIDGETS = {"run_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


class PatchPolicyForm(_RuleFields):
    asset_classes = forms.ModelMultipleChoiceField(
        queryset=AssetClass.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every class.",
    )
    rings = forms.ModelMultipleChoiceField(
        queryset=Ring.objects.order_by("order"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every ring.",
    )

    class Meta:
        model = PatchPolicy
        fields = [
            "name",
            "is_active",
            "tiers",
            "include_kev",
            "product_class",
            "os_families",
            "asset_classes",
            "rings",
            "schedule",
            "offset_days",
            "weekday",
            "run_at",
            "approver_role",
        ]
        widgets = _RULE_WIDGETS
        labels = {"is_active": "Active", "include_kev": "Include KEV updates of any tier"}


class _KeyList(forms.CharField):
    """Comma-separated keys (``workstation, core_server``) as a sorted list."""

    def to_python(self, value):
        text = super().to_python(value) or ""
        keys = sorted({k.strip() for k in text.split(",") if k.strip()})
        bad = [k for k in keys if not _is_slug(k)]
        if bad:
            raise forms.ValidationError(f"Not a key: {', '.join(bad)} (letters, digits, - and _).")
        return keys

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


def _is_slug(value: str) -> bool:
    return bool(value) and all(c.isalnum() or c in "-_" for c in value) and len(value) <= 50


class PolicyTemplateForm(_RuleFields):
    asset_classes = _KeyList(
        required=False,
        max_length=TEXT_MAX_LENGTH,
        help_text="Asset class keys, comma-separated (workstation, core_server, …); empty: all.",
    )
    rings = _KeyList(
        required=False,
        max_length=TEXT_MAX_LENGTH,
        help_text="Ring keys, comma-separated (canary, pilot, production); empty: all.",
    )

    class Meta:
        model = PolicyTemplate
        fields = [
            "name",
            "description",
            "tiers",
            "include_kev",
            "product_class",
            "os_families",
            "asset_classes",
            "rings",
            "schedule",
            "offset_days",
            "weekday",
            "run_at",
            "approver_role",
        ]
        widgets = {**_RULE_WIDGETS, "description": forms.TextInput}
        labels = {"include_kev": "Include KEV updates of any tier"}


class ApplyTemplateForm(forms.Form):
    clients = forms.ModelMultipleChoiceField(
        queryset=Client.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one client."},
    )

    def __init__(self, *args, clients=None, **kwargs):
        super().__init__(*args, **kwargs)
        if clients is not None:
            self.fields["clients"].queryset = clients


# --- restore tests -----------------------------------------------------------------------------


class ScheduleRestoreTestForm(forms.Form):
    asset = forms.UUIDField()
    scheduled_for = forms.DateField()
    what = forms.CharField(max_length=TEXT_MAX_LENGTH)


class RecordRestoreTestForm(forms.Form):
    test = forms.UUIDField()
    outcome = forms.ChoiceField(choices=[("passed", "Passed"), ("failed", "Failed")])
    performed_at = forms.DateTimeField()
    performed_by = forms.CharField(max_length=200)
    evidence_url = forms.URLField(max_length=500, assume_scheme="https")
    note = forms.CharField(required=False, max_length=TEXT_MAX_LENGTH)


class RestoreRuleForm(forms.Form):
    max_age_days = forms.IntegerField(min_value=1, max_value=730)
    gate_waves = forms.BooleanField(required=False)
