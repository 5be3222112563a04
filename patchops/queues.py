"""Which Celery queue each task goes to, so workers can be scaled per kind of work.

Three queues beside Celery's default one (``celery``): **ingest** (device data coming in: file
uploads, scheduled discovery, re-matching a client against the catalogue, feed and PSA pulls),
**reports** (PDF packs, their e-mails, monthly snapshots, the nightly scorecards, the weekly
rollups) and **rollouts** (ring evaluation and re-balancing, patch policies, the calls to RMMs
that deploy). Everything else — beat's dispatchers, sweeps, notifications — stays on ``celery``.

``CELERY_QUEUE_PREFIX`` (default empty) is put before every queue name, so that several
installations can share one broker. A task sent with an explicit ``queue=`` keeps it.

One worker for everything: ``celery -A patchops worker -Q celery,ingest,reports,rollouts``
(``make run`` does so); on several machines, one worker (or more) per queue.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

__all__ = ["QUEUES", "TASK_QUEUES", "queue_name", "route_task", "worker_queues"]

DEFAULT = "celery"
INGEST = "ingest"
REPORTS = "reports"
ROLLOUTS = "rollouts"
QUEUES = [DEFAULT, INGEST, REPORTS, ROLLOUTS]

TASK_QUEUES: dict[str, str] = {
    # Device and catalogue data coming in.
    "uploads.read_upload": INGEST,
    "inventory.run_discovery": INGEST,
    "inventory.mark_stale_assets": INGEST,
    "patchops.refresh_client_findings": INGEST,
    "catalogue.sync_feeds": INGEST,
    "integrations.poll_psa": INGEST,
    # Documents and the figures they are made of.
    "evidence.generate_report": REPORTS,
    "evidence.generate_monthly_reports": REPORTS,
    "reports.deliver_report": REPORTS,
    "reports.fail_stale_requests": REPORTS,
    "reports.requeue_lost_deliveries": REPORTS,
    "inventory.create_monthly_snapshot": REPORTS,
    "patchops.record_scorecard": REPORTS,
    "scorecards.write_weekly_rollups": REPORTS,
    # Changing devices.
    "rings.evaluate_client_rollouts": ROLLOUTS,
    "rings.rebalance_client_rings": ROLLOUTS,
    "rings.run_client_patch_policies": ROLLOUTS,
    "integrations.deliver_outbox_message": ROLLOUTS,
    "integrations.sweep_outbox": ROLLOUTS,
}


def queue_name(queue: str) -> str:
    """The broker's name of ``queue`` (with ``CELERY_QUEUE_PREFIX``)."""
    return f"{getattr(settings, 'CELERY_QUEUE_PREFIX', '')}{queue}"


def worker_queues(queues: list[str] | None = None) -> str:
    """The ``-Q`` argument of a worker consuming ``queues`` (default: every queue)."""
    return ",".join(queue_name(q) for q in (queues or QUEUES))


def route_task(
    name: str, args: Any, kwargs: Any, options: dict[str, Any], task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router (``CELERY_TASK_ROUTES``): the queue of task ``name``; read at every send."""
    if options.get("queue"):
        return None  # an explicit queue wins
    return {"queue": queue_name(TASK_QUEUES.get(name, DEFAULT))}
