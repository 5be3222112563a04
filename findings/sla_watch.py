"""The SLA watch: announces, once per due time, that an open finding is about to breach its SLA
(``finding.due_soon``, ``FINDING_DUE_SOON_HOURS`` before) and that it breached it
(``finding.overdue``, as soon as the due time has passed).

The announcements are evidence events: the chain records when each breach was noticed, and the
PSA connectors, outbound webhooks and notifications subscribe to them
(``evidence.subscribers``). A finding that an active exception covers is not announced (its
deferral was signed); when the exception ends and the finding is still open, the next sweep
announces it. A due time announced once is never announced again; a new due time is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from evidence.services import record_events

from .models import Finding
from .selectors import outstanding_findings, with_exception_cover

__all__ = ["SlaWatchSummary", "announce_sla_milestones"]

# Findings announced per transaction (a first sweep of a large backlog runs in several).
BATCH_SIZE = 2000


@dataclass(frozen=True)
class SlaWatchSummary:
    due_soon: int
    overdue: int

    def as_dict(self) -> dict[str, int]:
        return {"due_soon": self.due_soon, "overdue": self.overdue}


def _payload(finding: Finding) -> dict:
    return {
        "asset": str(finding.asset.uuid),
        "hostname": finding.asset.hostname,
        "patch": finding.patch_identifier,
        "tier": finding.tier,
        "kev": finding.is_kev,
        "state": finding.state,
        "detected_at": finding.detected_at.isoformat(),
        "due_at": finding.due_at.isoformat(),
    }


def _announce(kind: str, pending: Q, marker: str, at: datetime, extra) -> int:
    announced = 0
    while True:
        with transaction.atomic():
            batch = list(
                with_exception_cover(outstanding_findings().filter(pending), at)
                .filter(excepted_until__isnull=True)
                .select_related("asset")
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("due_at", "pk")[:BATCH_SIZE]
            )
            if not batch:
                return announced
            record_events(
                [
                    {
                        "kind": kind,
                        "subject_type": "finding",
                        "subject_id": f.uuid,
                        "actor": "system:sla-watch",
                        "payload": {**_payload(f), **extra(f)},
                        "occurred_at": at,
                    }
                    for f in batch
                ]
            )
            for f in batch:
                Finding.objects.filter(pk=f.pk).update(**{marker: f.due_at})
            announced += len(batch)
            if len(batch) < BATCH_SIZE:
                return announced


def not_announced(marker: str) -> Q:
    """The findings whose current due time ``marker`` has not announced."""
    return Q(**{f"{marker}__isnull": True}) | ~Q(**{marker: F("due_at")})


def announce_sla_milestones(*, at: datetime | None = None) -> SlaWatchSummary:
    """Record ``finding.overdue`` for each outstanding (not verified, not "not applicable"),
    uncovered finding past its due time and
    ``finding.due_soon`` for each due within ``FINDING_DUE_SOON_HOURS``, once per due time
    (call in the client's schema)."""
    at = at or timezone.now()
    soon = timedelta(hours=settings.FINDING_DUE_SOON_HOURS)
    overdue = _announce(
        "finding.overdue",
        Q(due_at__lt=at) & not_announced("overdue_announced_for"),
        "overdue_announced_for",
        at,
        lambda f: {},
    )
    due_soon = _announce(
        "finding.due_soon",
        Q(due_at__gte=at, due_at__lte=at + soon) & not_announced("due_soon_announced_for"),
        "due_soon_announced_for",
        at,
        lambda f: {"hours_left": max(0, int((f.due_at - at).total_seconds() // 3600))},
    )
    return SlaWatchSummary(due_soon=due_soon, overdue=overdue)
