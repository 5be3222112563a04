"""FilterSet of the stored reports, shared by their page and their API."""

from __future__ import annotations

from django_filters import rest_framework as filters

from common.periods import parse_period

from .models import ReportKind, StoredReport


class StoredReportFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=ReportKind.choices)
    period = filters.CharFilter(method="filter_period", label="Period (YYYY-MM)")

    class Meta:
        model = StoredReport
        fields = ["kind", "period"]

    def filter_period(self, queryset, name, value):
        try:
            return queryset.filter(period=parse_period(value))
        except ValueError:
            return queryset.none()
