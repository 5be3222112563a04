"""FilterSets shared by the evidence pages and API."""

from __future__ import annotations

from django_filters import rest_framework as filters

from common.filtering import IsoDateTimeFilter

from .models import EvidenceEvent, ReportKind, StoredReport


class EvidenceEventFilterSet(filters.FilterSet):
    kind = filters.CharFilter(field_name="kind")
    kind_prefix = filters.CharFilter(
        field_name="kind", lookup_expr="startswith", label="Kind starts with"
    )
    subject_type = filters.CharFilter(field_name="subject_type")
    subject_id = filters.CharFilter(field_name="subject_id")
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = EvidenceEvent
        fields = [
            "kind",
            "kind_prefix",
            "subject_type",
            "subject_id",
            "occurred_after",
            "occurred_before",
        ]


class StoredReportFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=ReportKind.choices)
    period = filters.CharFilter(method="filter_period", label="Period (YYYY-MM)")

    class Meta:
        model = StoredReport
        fields = ["kind", "period"]

    def filter_period(self, queryset, name, value):
        from .periods import parse_period

        try:
            return queryset.filter(period=parse_period(value))
        except ValueError:
            return queryset.none()
