"""The findings as a work queue: whitelisted sorts, the group-by-patch view, and the
cross-client queue of critical findings that are overdue or soon due (read side)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet

from tenants.models import Client

from .choices import FindingState, SeverityTier
from .models import OPEN_STATES, Finding
from .selectors import DUE_SOON_HOURS, TIER_ORDER

__all__ = [
    "SORTS",
    "GROUP_SORTS",
    "sorted_findings",
    "patch_groups",
    "CrossClientRow",
    "cross_client_queue",
]

# ?sort= key → (label, ordering). A leading "-" reverses a column; anything else is ignored
# with a message (never an error).
SORTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "due": ("Due (soonest first)", ("due_at", "pk")),
    "-due": ("Due (latest first)", ("-due_at", "-pk")),
    "risk": ("Risk (lowest first)", ("risk_score", "due_at", "pk")),
    "-risk": ("Risk (highest first)", ("-risk_score", "due_at", "pk")),
    "tier": ("Tier (critical first)", ("tier_rank", "due_at", "pk")),
    "-tier": ("Tier (low first)", ("-tier_rank", "due_at", "pk")),
    "asset": ("Asset (A–Z)", ("asset__hostname", "patch_identifier", "pk")),
    "-asset": ("Asset (Z–A)", ("-asset__hostname", "patch_identifier", "pk")),
    "patch": ("Patch (A–Z)", ("patch_identifier", "asset__hostname", "pk")),
    "-patch": ("Patch (Z–A)", ("-patch_identifier", "asset__hostname", "pk")),
    "detected": ("Detected (oldest first)", ("detected_at", "pk")),
    "-detected": ("Detected (newest first)", ("-detected_at", "-pk")),
    "state": ("State", ("state", "due_at", "pk")),
    "-state": ("State (reversed)", ("-state", "due_at", "pk")),
}
GROUP_SORTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "-devices": ("Devices (most first)", ("-devices", "patch_identifier")),
    "devices": ("Devices (fewest first)", ("devices", "patch_identifier")),
    "due": ("Earliest due first", ("earliest_due", "patch_identifier")),
    "tier": ("Tier (critical first)", ("tier_rank", "-devices", "patch_identifier")),
    "patch": ("Patch (A–Z)", ("patch_identifier",)),
    "-patch": ("Patch (Z–A)", ("-patch_identifier",)),
}
CLOSED = (FindingState.VERIFIED, FindingState.NOT_APPLICABLE)


def unknown_sort(value: str, sorts: dict[str, Any], default: str) -> str:
    return (
        f"Unknown sort “{value[:40]}”: sorted by {sorts[default][0].lower()} instead. "
        f"Sort by one of: {', '.join(sorts)}."
    )


def sorted_findings(qs: QuerySet[Finding], sort: str) -> QuerySet[Finding]:
    """``qs`` in the order of a whitelisted ``sort`` key (the caller checked it)."""
    return qs.annotate(tier_rank=TIER_ORDER).order_by(*SORTS[sort][1])


def patch_groups(qs: QuerySet[Finding], *, at: datetime, sort: str = "-devices") -> QuerySet:
    """One row per patch of ``qs``: the devices missing it, its findings, how many are
    overdue, the earliest due time, the worst tier (rank) and whether KEV lists it."""
    outstanding = ~Q(state__in=CLOSED)
    return (
        qs.order_by()
        .values("patch_identifier")
        .annotate(
            devices=Count("asset", distinct=True),
            findings=Count("pk"),
            overdue=Count("pk", filter=outstanding & Q(due_at__lt=at)),
            earliest_due=Min("due_at"),
            tier_rank=Min(TIER_ORDER),
            kev=Count("pk", filter=Q(is_kev=True)),
            package=Max("package_name"),
        )
        .order_by(*GROUP_SORTS[sort][1])
    )


# --- across clients ----------------------------------------------------------------------------


@dataclass
class CrossClientRow:
    client: Client
    uuid: Any
    patch_identifier: str
    hostname: str
    state: str
    is_kev: bool
    risk_score: Any
    due_at: datetime
    overdue: bool

    @property
    def state_label(self) -> str:
        return FindingState(self.state).label


CROSS_CLIENT_LIMIT = 500


def cross_client_queue(
    clients: list[Client], *, at: datetime, limit: int = CROSS_CLIENT_LIMIT
) -> list[CrossClientRow]:
    """Every outstanding critical finding, overdue or due within ``DUE_SOON_HOURS``, of the
    given clients (the ones the reader may see): ONE query, a UNION ALL over their schemas
    (each part reads the finding index on state and due time), earliest due first."""
    real = [c for c in clients if not c.is_public]
    if not real:
        return []
    by_schema = {c.schema_name: c for c in real}
    quote = connection.ops.quote_name
    parts, params = [], []
    states = [str(s) for s in OPEN_STATES]
    marks = ", ".join(["%s"] * len(states))
    table = Finding._meta.db_table
    asset_table = Finding._meta.get_field("asset").related_model._meta.db_table
    for schema in sorted(by_schema):
        parts.append(
            f"SELECT %s AS schema_name, f.uuid, f.patch_identifier, a.hostname, f.state, "
            f"f.is_kev, f.risk_score, f.due_at FROM {quote(schema)}.{quote(table)} f "
            f"JOIN {quote(schema)}.{quote(asset_table)} a ON a.id = f.asset_id "
            f"WHERE f.tier = %s AND f.state IN ({marks}) AND f.due_at <= %s"
        )
        soon = at + timedelta(hours=DUE_SOON_HOURS)
        params += [schema, str(SeverityTier.CRITICAL), *states, soon]
    sql = " UNION ALL ".join(parts) + " ORDER BY due_at, schema_name, patch_identifier LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        rows = cursor.fetchall()
    return [
        CrossClientRow(
            client=by_schema[schema],
            uuid=uuid,
            patch_identifier=patch,
            hostname=hostname,
            state=state,
            is_kev=kev,
            risk_score=score,
            due_at=due_at,
            overdue=due_at < at,
        )
        for schema, uuid, patch, hostname, state, kev, score, due_at in rows
    ]
