"""Read side of the scorecards: only the public rollup rows, never a client schema.

**Clients by risk** ranks each client's latest row by a risk index (0–100):

    risk_index = 25 if regulated (HIPAA)
               + 25 × ePHI exposure (ePHI assets ÷ assets in scope)
               + 20 × uptime needs (do-not-disrupt assets ÷ assets in scope)
               + 30 × min(1, open critical findings ÷ assets in scope)

Rank and mark are taken among the clients the viewer may see, never across clients hidden from
them (a client owner's own client is not placed among the MSP's other clients): the top 20 %
(``ceil(0.2 × visible clients with a row)``, at least one; ties by name) are marked, and only
when the viewer sees more clients than the mark would cover (one client alone is no ranking).
MSP admins and engineers see every client, so for them this is the whole portfolio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from tenants.models import Client
from tenants.permissions import visible_clients

from .models import ScorecardRow

__all__ = [
    "TREND_DAYS",
    "visible_rows",
    "latest_rows",
    "risk_index",
    "ClientScore",
    "clients_by_risk",
    "top_risk_ids",
]

TREND_DAYS = 30
TOP_SHARE = Decimal("0.2")


def visible_rows(principal: Any) -> QuerySet[ScorecardRow]:
    return ScorecardRow.objects.filter(client__in=visible_clients(principal)).select_related(
        "client"
    )


def latest_rows(qs: QuerySet[ScorecardRow]) -> QuerySet[ScorecardRow]:
    """The newest row of each client in ``qs`` (one query: DISTINCT ON)."""
    return qs.order_by("client_id", "-date").distinct("client_id")


def risk_index(row: ScorecardRow) -> Decimal:
    scope = row.assets_in_scope or 0
    share = (lambda n: Decimal(n) / Decimal(scope)) if scope else (lambda n: Decimal(0))
    value = (
        (Decimal(25) if row.is_regulated else Decimal(0))
        + Decimal(25) * share(row.ephi_assets)
        + Decimal(20) * share(row.do_not_disrupt_assets)
        + Decimal(30) * min(Decimal(1), share(row.open_critical))
    )
    return value.quantize(Decimal("0.01"))


@dataclass
class ClientScore:
    client: Client
    row: ScorecardRow
    risk_index: Decimal
    rank: int = 0
    is_top_risk: bool = False
    trend: list[ScorecardRow] = field(default_factory=list)


def top_risk_ids(ranked: list[ScorecardRow]) -> set[int]:
    """Client ids of the top 20 % of ``ranked`` (riskiest first; the rows one viewer may see).

    Empty when the mark would cover every row (one client alone is no ranking)."""
    top_n = max(1, math.ceil(TOP_SHARE * len(ranked))) if ranked else 0
    if top_n >= len(ranked):
        return set()
    return {r.client_id for r in ranked[:top_n]}


def clients_by_risk(principal: Any, *, today: date | None = None) -> list[ClientScore]:
    """Visible clients' latest rows, riskiest first, ranked and marked among themselves (the
    top-20 % mark), with 30-row trends.

    Two queries whatever the number of clients.
    """
    visible = list(latest_rows(visible_rows(principal)))
    ranked = sorted(visible, key=lambda r: (-risk_index(r), r.client.name))
    top_ids = top_risk_ids(ranked)
    scores = [
        ClientScore(
            client=r.client,
            row=r,
            risk_index=risk_index(r),
            rank=i + 1,
            is_top_risk=r.client_id in top_ids,
        )
        for i, r in enumerate(ranked)
    ]
    if scores:
        newest = max(s.row.date for s in scores)
        since = (today or newest) - timedelta(days=TREND_DAYS * 2)
        by_client: dict[int, list[ScorecardRow]] = {}
        for row in ScorecardRow.objects.filter(
            client_id__in=[s.client.pk for s in scores], date__gte=since
        ).order_by("client_id", "-date"):
            bucket = by_client.setdefault(row.client_id, [])
            if len(bucket) < TREND_DAYS:
                bucket.append(row)
        for s in scores:
            s.trend = list(reversed(by_client.get(s.client.pk, [])))
    return scores
