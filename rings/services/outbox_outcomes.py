"""What a delivered or given-up RMM call means for the rollout (registered with the
integrations' hooks in ``RingsConfig.ready``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rings.choices import DeploymentStatus, RollbackTargetStatus
from rings.models import DeploymentResult, RollbackTarget

from .recovery import record_rollback_outcome
from .results import confirm_snapshot

ACTOR = "connector:webhook"


def _result(wave: str, asset: str) -> DeploymentResult | None:
    return (
        DeploymentResult.objects.select_related("asset", "wave")
        .filter(wave__uuid=wave, asset__uuid=asset)
        .first()
    )


def call_delivered(*, message: Any, at: datetime) -> None:
    """A delivered snapshot request confirms the asset's snapshot."""
    if message.event != "asset.snapshot" or not message.payload.get("wave"):
        return
    result = _result(message.payload["wave"], message.payload["asset"]["id"])
    if result is not None:
        confirm_snapshot(result=result, at=at, actor=ACTOR)


def call_dead(*, message: Any, at: datetime) -> None:
    """A rollback call given up fails its devices; a deploy or snapshot call says so on the
    results it concerns (it can be sent again)."""
    error = message.last_error or "no answer"
    payload = message.payload
    if message.event == "rollout.rollback":
        text = f"The RMM webhook was not delivered ({error}); nothing was rolled back."
        targets = RollbackTarget.objects.filter(
            rollback__uuid=payload["rollback"], status=RollbackTargetStatus.PENDING
        ).select_related("asset")
        for target in targets:
            record_rollback_outcome(
                target=target, succeeded=False, at=at, message=text, actor=ACTOR
            )
    elif message.event == "asset.snapshot" and payload.get("wave"):
        DeploymentResult.objects.filter(
            wave__uuid=payload["wave"],
            asset__uuid=payload["asset"]["id"],
            snapshot_confirmed_at__isnull=True,
        ).update(
            message=f"The snapshot request did not reach the RMM ({error}); "
            "send it again from the integrations page."
        )
    elif message.event == "wave.deploy":
        DeploymentResult.objects.filter(
            wave__uuid=payload["wave"],
            asset__uuid__in=[a["id"] for a in payload.get("assets", [])],
            status=DeploymentStatus.PENDING,
        ).update(
            message=f"The deployment did not reach the RMM ({error}); send it again from "
            "the integrations page, or it catches up after its window."
        )


def retry_refusal(*, message: Any) -> str | None:
    if message.event == "rollout.rollback":
        return "This rollback failed when its call was given up; request a new rollback."
    return None
