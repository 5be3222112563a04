"""FilterSets shared by the findings pages and API."""

from __future__ import annotations

from datetime import timedelta

import django_filters as filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from common.choices import OsFamily

from .choices import FindingState, SeverityTier
from .models import Finding
from .selectors import DUE_SOON_HOURS

CLOSED = [FindingState.VERIFIED, FindingState.NOT_APPLICABLE]


class FindingFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search")
    overdue = filters.BooleanFilter(method="filter_overdue", label="Overdue")
    due_soon = filters.BooleanFilter(
        method="filter_due_soon", label=f"Due within {DUE_SOON_HOURS} h"
    )
    # Columns of the finding itself: no join can repeat a row, so no DISTINCT (django-filter's
    # default for a multiple choice), which made PostgreSQL sort every column of the page and
    # of its count.
    tier = filters.MultipleChoiceFilter(choices=SeverityTier.choices, distinct=False)
    state = filters.MultipleChoiceFilter(choices=FindingState.choices, distinct=False)
    os_family = filters.ChoiceFilter(field_name="asset__os_family", choices=OsFamily.choices)
    asset_class = filters.CharFilter(field_name="asset__asset_class__key", label="Asset class")
    is_kev = filters.BooleanFilter(field_name="is_kev", label="In CISA KEV")
    asset = filters.UUIDFilter(field_name="asset__uuid")
    cve = filters.CharFilter(method="filter_cve", label="CVE")
    patch = filters.CharFilter(field_name="patch_identifier", label="Patch")

    class Meta:
        model = Finding
        fields = ["q", "overdue", "due_soon", "tier", "state", "os_family", "asset_class", "is_kev"]

    def search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(asset__hostname__icontains=value)
            | Q(patch_identifier__icontains=value)
            | Q(package_name__icontains=value)
            | Q(cves__contains=[value.upper()])
        )

    def filter_cve(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(cves__contains=[value.strip().upper()]) if value.strip() else qs

    def filter_overdue(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        now = timezone.now()
        overdue = Q(due_at__lt=now) & ~Q(state__in=CLOSED)
        return qs.filter(overdue) if value else qs.exclude(overdue)

    def filter_due_soon(self, qs: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        now = timezone.now()
        soon = Q(due_at__gte=now, due_at__lte=now + timedelta(hours=DUE_SOON_HOURS)) & ~Q(
            state__in=CLOSED
        )
        return qs.filter(soon) if value else qs.exclude(soon)
