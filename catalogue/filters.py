"""FilterSets for the catalogue, shared by the API and any page listing it."""

from __future__ import annotations

from django_filters import rest_framework as filters

from .choices import AdvisorySource, SeverityTier
from .models import Advisory, KevEntry, Vulnerability


class VulnerabilityFilterSet(filters.FilterSet):
    is_kev = filters.BooleanFilter(field_name="is_kev")
    cvss_severity = filters.ChoiceFilter(choices=SeverityTier.choices)
    vendor_severity = filters.ChoiceFilter(choices=SeverityTier.choices)
    min_cvss = filters.NumberFilter(field_name="cvss3_score", lookup_expr="gte")
    min_epss = filters.NumberFilter(field_name="epss_score", lookup_expr="gte")

    class Meta:
        model = Vulnerability
        fields = ["is_kev", "cvss_severity", "vendor_severity", "nvd_status", "ssvc_exploitation"]


class AdvisoryFilterSet(filters.FilterSet):
    source = filters.ChoiceFilter(choices=AdvisorySource.choices)
    cve = filters.CharFilter(field_name="cves", lookup_expr="contains", method="filter_cve")
    product = filters.CharFilter(field_name="fixes__product", lookup_expr="iexact", distinct=True)
    exploited = filters.BooleanFilter(method="filter_exploited")
    released_after = filters.DateFilter(field_name="release_date", lookup_expr="gte")

    class Meta:
        model = Advisory
        fields = ["source", "os_family", "vendor_severity", "reboot_required"]

    def filter_cve(self, queryset, name, value):
        return queryset.filter(cves__contains=[value.strip().upper()])

    def filter_exploited(self, queryset, name, value):
        return queryset.exclude(exploited_cves=[]) if value else queryset.filter(exploited_cves=[])


class KevEntryFilterSet(filters.FilterSet):
    added_after = filters.DateFilter(field_name="date_added", lookup_expr="gte")
    removed = filters.BooleanFilter(
        field_name="removed_on", lookup_expr="isnull", exclude=True, label="Removed by CISA"
    )

    class Meta:
        model = KevEntry
        fields = ["known_ransomware", "is_overdue_on_add", "vendor"]
