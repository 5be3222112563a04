"""FilterSet of the evidence log, shared by its page and its API."""

from __future__ import annotations

from django_filters import rest_framework as filters

from common.filtering import IsoDateTimeFilter

from .models import EvidenceEvent


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
