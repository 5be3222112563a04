"""Service plans across clients: each client's tier, the upgrades that would help it, and a
plan change (recorded in the client's evidence chain)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_tenants.utils import tenant_context

from evidence.services import actor_label, record_event
from tenants.models import Client
from tenants.services import set_plan
from tenants.tiers import Gain, Plan, Tier, tier_of, upgrade_gains

__all__ = ["PlanRow", "plan_rows", "change_plan"]


@dataclass(frozen=True)
class PlanRow:
    client: Client
    tier: Tier
    gains: list[Gain]


def plan_rows(clients: list[Client], *, gains_only: bool = False) -> list[PlanRow]:
    """Each client with its tier and what an upgrade would give it (no query: plans live on
    the client row)."""
    rows = [PlanRow(c, tier_of(c), upgrade_gains(c)) for c in clients]
    return [r for r in rows if r.gains] if gains_only else rows


def change_plan(*, client: Client, plan: str, actor: Any) -> bool:
    """Move ``client`` to ``plan`` and record ``client.plan_changed`` in its chain; False when
    it already had that plan (nothing recorded). An unknown plan raises ``ValidationError``."""
    with transaction.atomic():
        previous = set_plan(client=client, plan=plan)
        if previous == plan:
            return False
        with tenant_context(client):
            record_event(
                kind="client.plan_changed",
                subject_type="client",
                subject_id=client.uuid,
                actor=actor_label(actor),
                payload={
                    "from": previous,
                    "to": plan,
                    "label": Plan(plan).label,
                },
            )
    return True
