"""FilterSets shared by the register pages and the API."""

from __future__ import annotations

from datetime import timedelta

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from common.filtering import IsoDateTimeFilter

from .choices import ExceptionKind, ExceptionState
from .models import RiskException
from .selectors import EXPIRING_SOON_DAYS


def _yes_no() -> forms.Select:
    """A true/false filter: Any, Yes, No (``?x=true`` / ``?x=false``)."""
    return forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])


class ExceptionFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(
        choices=ExceptionState.choices, label="State", widget=forms.CheckboxSelectMultiple
    )
    kind = filters.ChoiceFilter(choices=ExceptionKind.choices, label="Kind", empty_label="Any")
    expiring_before = IsoDateTimeFilter(
        field_name="expires_at", lookup_expr="lt", label="Expiring before"
    )
    expiring_soon = filters.BooleanFilter(
        method="filter_expiring_soon",
        label=f"Active, expiring within {EXPIRING_SOON_DAYS} days",
        widget=_yes_no(),
    )
    q = filters.CharFilter(method="filter_q", label="Search")

    class Meta:
        model = RiskException
        fields = ["state", "kind", "expiring_before", "expiring_soon", "q"]

    def filter_expiring_soon(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if not value:
            return queryset
        now = timezone.now()
        return queryset.filter(
            state=ExceptionState.ACTIVE,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=EXPIRING_SOON_DAYS),
        )

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(ticket_reference__icontains=value)
            | Q(reason__icontains=value)
            | Q(assets__hostname__icontains=value)
        ).distinct()
