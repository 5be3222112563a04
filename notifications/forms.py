"""Forms of the notifications pages (bad input: a field error, nothing changes)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from .choices import Delivery, NotificationKind
from .models import ChatWebhook

__all__ = ["PreferencesForm", "ChatWebhookForm"]


class PreferencesForm(forms.Form):
    """Per kind: immediately, in the daily digest, or off; and when the digest goes out."""

    digest_hour = forms.TypedChoiceField(
        label="Daily digest at",
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
    )
    time_zone = forms.CharField(
        label="Time zone of the digest", max_length=64, help_text="e.g. America/Chicago"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            self.fields[f"kind_{kind.value}"] = forms.ChoiceField(
                label=kind.label, choices=Delivery.choices, widget=forms.RadioSelect
            )

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise forms.ValidationError(
                f"“{name}” is not a time zone; give one like Europe/Berlin."
            ) from exc
        return name

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[f"kind_{kind.value}"] for kind in NotificationKind]

    def deliveries(self) -> dict[str, str]:
        return {kind.value: self.cleaned_data[f"kind_{kind.value}"] for kind in NotificationKind}


class ChatWebhookForm(forms.ModelForm):
    url = forms.URLField(label="Incoming webhook URL", max_length=1000, assume_scheme="https")

    class Meta:
        model = ChatWebhook
        fields = ["name", "provider", "url"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the channel a name.")
        return name
