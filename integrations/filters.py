"""FilterSets of the integrations app (pages and API)."""

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


class PsaTicketFilterSet(filters.FilterSet):
    category = filters.ChoiceFilter(choices=TicketCategory.choices)
    status = filters.ChoiceFilter(choices=TicketStatus.choices)
    source = filters.ChoiceFilter(choices=TicketSource.choices)
    meaning = filters.ChoiceFilter(choices=TicketMeaning.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = PsaTicket
        fields = ["category", "status", "source", "meaning", "is_after_hours"]


class OutboxMessageFilterSet(filters.FilterSet):
    state = filters.ChoiceFilter(choices=DeliveryState.choices)
    kind = filters.ChoiceFilter(choices=DeliveryKind.choices)
    event = filters.CharFilter(max_length=60)
    rollout = filters.UUIDFilter(
        method="filter_rollout", label="Rollout", help_text="Calls made for this rollout."
    )
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = OutboxMessage
        fields = ["state", "kind", "event"]

    def filter_rollout(self, queryset, name, value):
        return queryset.filter(subject_type="rollout", subject_id=str(value))
