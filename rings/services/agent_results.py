"""What an agent's job report or an undeliverable wave means for the rollout. Registered in
``integrations.hooks`` by ``RingsConfig.ready``: the integrations receive the reports, this
module records their outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.choices import JobAction

from ..models import DeploymentResult, RollbackTarget
from .recovery import record_rollback_outcome
from .results import confirm_snapshot, record_deployment_outcome

__all__ = ["apply_job_result", "record_undeliverable"]


def apply_job_result(
    *, job: Any, succeeded: bool, failed: list[dict], message: str, actor: Any, at: datetime
) -> None:
    """A finished agent job: a rollback job settles its rollback target; an install job its
    deployment result; a snapshot job confirms the snapshot (a failed one is requested again)."""
    outcome = succeeded and not failed
    reason = message or ("" if succeeded else "Agent reported failure.")
    if job.action == JobAction.ROLLBACK:
        target = (
            RollbackTarget.objects.filter(rollback=job.rollback_id, asset=job.asset_id).first()
            if job.rollback_id
            else None
        )
        if target is not None:
            record_rollback_outcome(
                target=target, succeeded=outcome, at=at, message=reason, actor=actor
            )
        return
    result = (
        DeploymentResult.objects.select_related("wave__ring", "wave__rollout", "asset")
        .filter(wave=job.wave_id, asset=job.asset_id)
        .first()
        if job.wave_id
        else None
    )
    if result is None:
        return
    if job.action == JobAction.INSTALL:
        record_deployment_outcome(
            result=result, succeeded=outcome, at=at, message=reason, actor=actor
        )
    elif job.action == JobAction.SNAPSHOT:
        if succeeded:
            confirm_snapshot(result=result, at=at, actor=actor)
        else:
            # Ask again on the next evaluation.
            DeploymentResult.objects.filter(pk=result.pk).update(
                snapshot_requested_at=None, message="Snapshot failed; requested again."
            )


def record_undeliverable(*, result: DeploymentResult, message: str, at: datetime) -> None:
    """A connector could not deliver the wave to this asset: the deployment failed."""
    record_deployment_outcome(result=result, succeeded=False, at=at, message=message)
