"""Restarts after a patch job: what a job tells the agent about its reboot policy, the pending
restart an agent reports, and a person's approval of a manual-approval restart.

Every install (and rollback) job carries ``reboot``, built from the SLA rule's reboot policy:

* ``scheduled``: ``at``, the next occurrence of the rule's weekday and time in the client's zone
  from the start of the job's window (``local``, ``timezone`` name it as the client reads it), and
  ``within_window``, whether that falls before the window closes;
* ``user_prompted``: the notice the agent shows, a deadline (minutes after the install) and how
  many snoozes of how long the user may take;
* ``manual_approval``: ``approved`` false. The agent does not restart; the asset is listed as
  "reboot pending approval" until a person approves in the portal, which queues a ``reboot`` job
  (``approved`` true) that the agent's next poll carries.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from evidence.services import actor_label, record_event
from findings.choices import RebootPolicy
from findings.models import SlaRule
from findings.sla import SUNDAY
from inventory.choices import RebootApproval
from inventory.models import Asset

from .choices import JobAction, JobStatus
from .models import AgentJob

__all__ = [
    "PROMPT_DEADLINE_MINUTES",
    "PROMPT_SNOOZES",
    "PROMPT_SNOOZE_MINUTES",
    "next_local_time",
    "reboot_instructions",
    "record_reboot_report",
    "approve_reboot",
    "RebootApprovalRefused",
]

PROMPT_DEADLINE_MINUTES = 240
PROMPT_SNOOZES = 3
PROMPT_SNOOZE_MINUTES = 60
DEFAULT_REBOOT_TIME = (SUNDAY, time(2, 0))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PROMPT_MESSAGE = (
    "Updates were installed on this computer. Please save your work: it restarts by the deadline."
)


class RebootApprovalRefused(Exception):
    """The asset has no restart awaiting approval."""


def next_local_time(weekday: int, at_time: time, tz: Any, start: datetime) -> datetime:
    """The first ``weekday`` ``at_time`` in ``tz`` at or after ``start`` (an aware instant).

    A wall time the spring-forward change skips is taken an hour later, as windows do."""
    local = start.astimezone(tz)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    for _ in range(3):
        candidate = datetime.combine(day, at_time, tzinfo=tz)
        # A skipped wall time does not survive the round trip through UTC: move it forward.
        moment = candidate.astimezone(UTC)
        if moment.astimezone(tz).replace(tzinfo=None) != candidate.replace(tzinfo=None):
            moment = (candidate + timedelta(hours=1)).astimezone(UTC)
        if moment >= start:
            return moment
        day += timedelta(days=7)
    raise AssertionError("unreachable: a week ahead is always after start")


def _schedule_of(asset: Asset) -> tuple[int, time]:
    rule = (
        SlaRule.objects.filter(
            asset_class_id=asset.asset_class_id,
            reboot_policy=RebootPolicy.SCHEDULED,
            reboot_weekday__isnull=False,
            reboot_time__isnull=False,
        )
        .order_by("pk")
        .values_list("reboot_weekday", "reboot_time")
        .first()
    )
    return rule if rule else DEFAULT_REBOOT_TIME


def reboot_instructions(
    asset: Asset,
    policy: str,
    *,
    not_before: datetime | None,
    not_after: datetime | None,
    at: datetime,
) -> dict[str, Any]:
    """The ``reboot`` object of a job for ``asset`` under ``policy`` (see the module)."""
    if policy == RebootPolicy.SCHEDULED:
        tz = connection.tenant.tz
        weekday, at_time = _schedule_of(asset)
        start = max(at, not_before) if not_before else at
        moment = next_local_time(weekday, at_time, tz, start)
        return {
            "policy": policy,
            "at": moment.isoformat(),
            "local": f"{WEEKDAYS[weekday]} {at_time.strftime('%H:%M')}",
            "timezone": str(tz),
            "within_window": not_after is None or moment <= not_after,
        }
    if policy == RebootPolicy.USER_PROMPTED:
        return {
            "policy": policy,
            "message": PROMPT_MESSAGE,
            "deadline_minutes": PROMPT_DEADLINE_MINUTES,
            "snoozes": PROMPT_SNOOZES,
            "snooze_minutes": PROMPT_SNOOZE_MINUTES,
        }
    return {"policy": RebootPolicy.MANUAL_APPROVAL, "approved": False}


def record_reboot_report(*, job: AgentJob, reboot_required: bool, at: datetime) -> None:
    """A real run's report of a pending restart marks the asset (caller's transaction); under
    manual approval the asset then awaits a person's approval."""
    if not reboot_required or job.action == JobAction.REBOOT:
        return
    asset = Asset.objects.select_for_update().get(pk=job.asset_id)
    fields = []
    if not asset.reboot_pending:
        asset.reboot_pending, asset.reboot_pending_since = True, at
        fields += ["reboot_pending", "reboot_pending_since"]
    policy = (job.reboot or {}).get("policy") or job.reboot_policy
    if policy == RebootPolicy.MANUAL_APPROVAL and asset.reboot_approval != RebootApproval.APPROVED:
        asset.reboot_approval = RebootApproval.AWAITING
        fields.append("reboot_approval")
    if fields:
        asset.save(update_fields=[*fields, "updated_at"])


def approve_reboot(*, asset: Asset, actor: Any, at: datetime | None = None) -> AgentJob:
    """A person approves the restart an asset awaits: a ``reboot`` job for its agent, which the
    next poll hands out, and an ``asset.reboot_approved`` event. Refused (nothing changes) when
    the asset awaits no approval or has no agent."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Asset.objects.select_for_update().get(pk=asset.pk)
        if locked.reboot_approval != RebootApproval.AWAITING or not locked.reboot_pending:
            raise RebootApprovalRefused("This asset has no restart awaiting approval.")
        if not locked.agent_id:
            raise RebootApprovalRefused("This asset has no discovery agent to restart it.")
        label = actor_label(actor)
        job = AgentJob.objects.create(
            asset=locked,
            agent_id=locked.agent_id,
            action=JobAction.REBOOT,
            packages=[],
            reboot_policy=RebootPolicy.MANUAL_APPROVAL,
            reboot={
                "policy": RebootPolicy.MANUAL_APPROVAL,
                "approved": True,
                "approved_by": label,
                "approved_at": at.isoformat(),
            },
            status=JobStatus.QUEUED,
            created_at=at,
        )
        locked.reboot_approval = RebootApproval.APPROVED
        locked.reboot_approved_by = label
        locked.reboot_approved_at = at
        locked.save(
            update_fields=[
                "reboot_approval",
                "reboot_approved_by",
                "reboot_approved_at",
                "updated_at",
            ]
        )
        record_event(
            kind="asset.reboot_approved",
            subject_type="asset",
            subject_id=locked.uuid,
            actor=actor,
            payload={
                "hostname": locked.hostname,
                "job": str(job.uuid),
                "pending_since": (
                    locked.reboot_pending_since.isoformat() if locked.reboot_pending_since else None
                ),
            },
            occurred_at=at,
        )
    return job
