"""Who may queue a report: MSP staff (admin, engineer, account manager) and write-scope tokens.

Everyone with the REPORTS capability may list and download; client owners and viewers may not
generate (a generated report is a deliverable of the MSP).
"""

from __future__ import annotations

from typing import Any

from tenants.choices import StaffRole, TokenScope

GENERATOR_ROLES = frozenset(
    {StaffRole.MSP_ADMIN, StaffRole.ENGINEER, StaffRole.ACCOUNT_MANAGER, TokenScope.WRITE}
)


def may_generate(role: Any) -> bool:
    return role in GENERATOR_ROLES
