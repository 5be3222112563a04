"""FilterSets shared by the register pages and the API (labels are what people read)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from .choices import AccountKind, Holder, IssueState, MfaState
from .models import PrivilegedAccount, PrivilegedAccountIssue

ACTIVE_CHOICES = [("true", "Active"), ("false", "Disabled")]


class AccountFilterSet(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=AccountKind.choices, label="Kind")
    held_by = filters.ChoiceFilter(choices=Holder.choices, label="Used by", empty_label="Anyone")
    mfa_state = filters.MultipleChoiceFilter(choices=MfaState.choices, label="MFA")
    is_active = filters.ChoiceFilter(
        choices=ACTIVE_CHOICES,
        method="filter_active",
        label="Status",
        empty_label="Active and disabled",
    )
    overdue = filters.BooleanFilter(method="filter_overdue", label="With an open overdue issue")
    system = filters.UUIDFilter(field_name="systems__uuid", label="Reaches system (asset id)")
    q = filters.CharFilter(method="filter_q", label="Search")

    class Meta:
        model = PrivilegedAccount
        fields = ["kind", "held_by", "mfa_state", "is_active", "overdue", "system", "q"]

    def filter_active(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(is_active=value == "true") if value else queryset

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        open_issue = PrivilegedAccountIssue.objects.filter(
            account=OuterRef("pk"), state=IssueState.OPEN
        )
        return queryset.filter(Exists(open_issue) if value else ~Exists(open_issue))

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(identifier__icontains=value)
            | Q(owner_name__icontains=value)
            | Q(owner_email__icontains=value)
        )
