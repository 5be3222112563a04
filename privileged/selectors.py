"""Read side of the register: counts for the list page, the dashboard and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .choices import ChecklistState, Holder, IssueState, MfaState
from .models import OffboardingChecklist, PrivilegedAccount, PrivilegedAccountIssue

__all__ = ["RegisterCounts", "register_counts", "open_issues", "accounts"]


@dataclass(frozen=True)
class RegisterCounts:
    active: int
    disabled: int
    mfa_covered: int
    client_staff_active: int
    client_staff_mfa_covered: int
    open_issues: int
    past_sla: int
    open_checklists: int

    @property
    def mfa_uncovered(self) -> int:
        return self.active - self.mfa_covered


def accounts() -> QuerySet[PrivilegedAccount]:
    return PrivilegedAccount.objects.all()


def open_issues() -> QuerySet[PrivilegedAccountIssue]:
    return PrivilegedAccountIssue.objects.filter(state=IssueState.OPEN).select_related("account")


def register_counts(today: date | None = None) -> RegisterCounts:
    """Three queries whatever the size of the register."""
    today = today or timezone.localdate()
    active = Q(is_active=True)
    covered = active & Q(mfa_state=MfaState.ENFORCED)
    client = Q(held_by=Holder.CLIENT)
    a = PrivilegedAccount.objects.aggregate(
        active=Count("pk", filter=active),
        disabled=Count("pk", filter=~active),
        mfa_covered=Count("pk", filter=covered),
        client_staff_active=Count("pk", filter=active & client),
        client_staff_mfa_covered=Count("pk", filter=covered & client),
    )
    i = PrivilegedAccountIssue.objects.filter(state=IssueState.OPEN).aggregate(
        open=Count("pk"), past_sla=Count("pk", filter=Q(resolve_by__lt=today))
    )
    checklists = OffboardingChecklist.objects.filter(state=ChecklistState.OPEN).count()
    return RegisterCounts(
        **a, open_issues=i["open"], past_sla=i["past_sla"], open_checklists=checklists
    )
