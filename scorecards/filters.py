import django_filters as filters

from .models import ScorecardRow


class ScorecardRowFilterSet(filters.FilterSet):
    client = filters.CharFilter(field_name="client__slug", label="Client slug")
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_before = filters.DateFilter(field_name="date", lookup_expr="lte")
    is_regulated = filters.BooleanFilter()

    class Meta:
        model = ScorecardRow
        fields = ["client", "date", "date_after", "date_before", "is_regulated"]
