"""FilterSets of the integrations app (pages and API)."""

from django import forms
from django_filters import rest_framework as filters

from common.filtering import IsoDateTimeFilter

from .choices import (
    DeliveryKind,
    DeliveryState,
    TicketCategory,
    TicketMeaning,
    TicketSource,
    TicketStatus,
)
from .models import OutboxMessage, PsaTicket


def _yes_no() -> forms.Select:
    """A true/false filter: Any, Yes, No (``?x=true`` / ``?x=false``)."""
    return forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])


class PsaTicketFilterSet(filters.FilterSet):
    category = filters.ChoiceFilter(
        choices=TicketCategory.choices, label="Category", empty_label="Any"
    )
    status = filters.ChoiceFilter(choices=TicketStatus.choices, label="Status", empty_label="Any")
    source = filters.ChoiceFilter(choices=TicketSource.choices, label="Source", empty_label="Any")
    meaning = filters.ChoiceFilter(
        choices=TicketMeaning.choices, label="PSA status", empty_label="Any"
    )
    is_after_hours = filters.BooleanFilter(label="After hours", widget=_yes_no())
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created on or after"
    )

    class Meta:
        model = PsaTicket
        fields = ["category", "status", "source", "meaning", "is_after_hours"]


class OutboxMessageFilterSet(filters.FilterSet):
    state = filters.ChoiceFilter(choices=DeliveryState.choices, label="State", empty_label="Any")
    kind = filters.ChoiceFilter(choices=DeliveryKind.choices, label="Kind", empty_label="Any")
    event = filters.CharFilter(max_length=60, label="Event kind")
    rollout = filters.UUIDFilter(
        method="filter_rollout", label="Rollout", help_text="Calls made for this rollout."
    )
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created on or after"
    )

    class Meta:
        model = OutboxMessage
        fields = ["state", "kind", "event"]

    def filter_rollout(self, queryset, name, value):
        return queryset.filter(subject_type="rollout", subject_id=str(value))
