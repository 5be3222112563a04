"""Read side of the register: counts for the list page, the dashboard and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.second_factor import FactorCoverage, factor_coverage
from tenants.models import Client

from .choices import ChecklistState, Holder, IssueState, MfaState
from .models import OffboardingChecklist, PrivilegedAccount, PrivilegedAccountIssue

__all__ = [
    "RegisterCounts",
    "register_counts",
    "open_issues",
    "accounts",
    "IdentityMfa",
    "identity_mfa",
]


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

    @property
    def mfa_percent(self) -> int | None:
        return _percent(self.mfa_covered, self.active)

    @property
    def client_staff_mfa_percent(self) -> int | None:
        return _percent(self.client_staff_mfa_covered, self.client_staff_active)


def _percent(part: int, whole: int) -> int | None:
    """Whole per cent, rounded down (100 only when all are); None when there is nothing."""
    return part * 100 // whole if whole else None


@dataclass(frozen=True)
class IdentityMfa:
    """The identity baseline's MFA, for one client: the PatchOps accounts that may sign in to
    it (the MSP's staff and the client's own people, from their enrolled second factors) and
    the client's own staff accounts of the register (their recorded MFA state)."""

    msp_staff: FactorCoverage
    client_people: FactorCoverage
    client_staff_accounts: FactorCoverage
    client_staff_without: list[PrivilegedAccount]


def identity_mfa(client: Client) -> IdentityMfa:
    """MFA coverage of ``client`` (call inside its schema: the register is the client's)."""
    portal = factor_coverage(client)
    own = list(
        PrivilegedAccount.objects.filter(is_active=True, held_by=Holder.CLIENT)
        .only("pk", "uuid", "name", "identifier", "mfa_state", "mfa_reason", "kind")
        .order_by("name", "pk")
    )
    without = [a for a in own if a.mfa_state != MfaState.ENFORCED]
    return IdentityMfa(
        msp_staff=portal["staff"],
        client_people=portal["people"],
        client_staff_accounts=FactorCoverage(total=len(own), covered=len(own) - len(without)),
        client_staff_without=without,
    )


def accounts() -> QuerySet[PrivilegedAccount]:
    return PrivilegedAccount.objects.all()


def open_issues() -> QuerySet[PrivilegedAccountIssue]:
    return PrivilegedAccountIssue.objects.filter(state=IssueState.OPEN).select_related("account")


def register_counts(today: date | None = None) -> RegisterCounts:
    """One statement whatever the size of the register (the overview and the list show it)."""
    today = today or timezone.localdate()
    accounts_table = PrivilegedAccount._meta.db_table
    issues_table = PrivilegedAccountIssue._meta.db_table
    checklists_table = OffboardingChecklist._meta.db_table
    sql = f"""
        SELECT
          count(*) FILTER (WHERE a.is_active),
          count(*) FILTER (WHERE NOT a.is_active),
          count(*) FILTER (WHERE a.is_active AND a.mfa_state = %(enforced)s),
          count(*) FILTER (WHERE a.is_active AND a.held_by = %(client)s),
          count(*) FILTER (
            WHERE a.is_active AND a.held_by = %(client)s AND a.mfa_state = %(enforced)s
          ),
          (SELECT count(*) FROM {issues_table} i WHERE i.state = %(open)s),
          (SELECT count(*) FROM {issues_table} i WHERE i.state = %(open)s
             AND i.resolve_by < %(today)s),
          (SELECT count(*) FROM {checklists_table} c WHERE c.state = %(checklist_open)s)
        FROM {accounts_table} a
    """  # noqa: S608 - table names come from the models, values are parameters
    params = {
        "enforced": MfaState.ENFORCED,
        "client": Holder.CLIENT,
        "open": IssueState.OPEN,
        "today": today,
        "checklist_open": ChecklistState.OPEN,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return RegisterCounts(*row)
