"""FilterSets of the integrations app."""

from django_filters import rest_framework as filters

from common.filtering import IsoDateTimeFilter

from .choices import TicketCategory, TicketStatus
from .models import PsaTicket


class PsaTicketFilterSet(filters.FilterSet):
    category = filters.ChoiceFilter(choices=TicketCategory.choices)
    status = filters.ChoiceFilter(choices=TicketStatus.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = PsaTicket
        fields = ["category", "status", "is_after_hours"]
