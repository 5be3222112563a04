"""Connectors execute a wave: deploy to assets, report results, take snapshots, roll back.

* ``AgentJobConnector`` (built in): jobs wait as ``AgentJob`` rows; the device's discovery agent
  polls ``agent-jobs/``, runs them with the platform's package tool and posts the result back.
* ``WebhookConnector``: POSTs signed JSON to an RMM (``X-PatchOps-Signature: sha256=<hex>``,
  HMAC-SHA256 of the raw body with the webhook's secret) through the outbox: the call is written
  in the caller's transaction and delivered by Celery after commit, with retries, an
  ``Idempotency-Key`` header and a visible delivery state (``integrations.outbox``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from . import hooks, outbox
from .choices import DeliveryKind, JobAction, JobStatus
from .models import AgentJob, OutboxMessage, RmmWebhook
from .reboot import reboot_instructions

if TYPE_CHECKING:
    from inventory.models import Asset
    from rings.models import RollbackEvent, RollbackTarget, Rollout, Wave

__all__ = [
    "Connector",
    "AgentJobConnector",
    "WebhookConnector",
    "RmmWebhookSender",
    "get_connector",
    "packages_for",
    "rollback_packages_for",
    "sign",
]

SIGNATURE_HEADER = "X-PatchOps-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def packages_for(wave: Wave, asset: Asset) -> list[dict[str, str]]:
    """[{name, version, advisory}] of the rollout's findings on one asset."""
    findings = wave.rollout.findings.filter(asset=asset).order_by("patch_identifier")
    return [
        {
            "name": f.package_name or f.patch_identifier,
            "version": f.fixed_version,
            "advisory": f.patch_identifier,
        }
        for f in findings
    ]


def rollback_packages_for(rollout: Rollout, asset: Asset) -> list[dict[str, str]]:
    """[{name, version, advisory}] that undo the rollout's findings on one asset: ``version`` is
    the version installed before the patch (empty when the finding did not know it; a Windows
    KB is uninstalled by its number)."""
    findings = rollout.findings.filter(asset=asset).order_by("patch_identifier")
    return [
        {
            "name": f.package_name or f.patch_identifier,
            "version": f.installed_version,
            "advisory": f.patch_identifier,
        }
        for f in findings
    ]


class Connector(ABC):
    name: str = "connector"

    @abstractmethod
    def deploy(self, wave: Wave, assets: Sequence[Asset], *, catch_up: bool = False) -> int:
        """Send the wave's patches to these assets; returns how many were sent."""

    @abstractmethod
    def collect_results(self, wave: Wave) -> dict[str, int]:
        """Job statuses of the wave (results themselves arrive through the API)."""

    @abstractmethod
    def take_snapshot(self, asset: Asset, *, wave: Wave | None = None) -> bool:
        """Request a snapshot; True when it is confirmed at once, False when it will be later."""

    @abstractmethod
    def rollback(
        self, rollback: RollbackEvent, targets: Sequence[RollbackTarget]
    ) -> dict[RollbackTarget, str]:
        """Queue the rollback of each target; returns the targets that could not be queued,
        with the reason (they fail at once). Results arrive later through the API."""


class AgentJobConnector(Connector):
    name = "agent"

    def _window(self, wave: Wave, asset: Asset) -> tuple[Any, Any]:
        result = wave.results.filter(asset=asset).only("window_start", "window_end").first()
        return (result.window_start, result.window_end) if result else (None, None)

    def _reboot(self, wave: Wave, asset: Asset) -> str:
        result = wave.results.filter(asset=asset).only("reboot_policy").first()
        return result.reboot_policy if result else ""

    def deploy(self, wave: Wave, assets: Sequence[Asset], *, catch_up: bool = False) -> int:
        now = timezone.now()
        sent = 0
        for asset in assets:
            result = wave.results.filter(asset=asset).first()
            if not asset.agent_id:
                if result is not None:
                    hooks.undeliverable(
                        result=result,
                        at=now,
                        message="No discovery agent on this asset; deploy it through an RMM.",
                    )
                continue
            if catch_up:
                AgentJob.objects.filter(
                    wave=wave,
                    asset=asset,
                    action=JobAction.INSTALL,
                    status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED],
                ).update(status=JobStatus.EXPIRED)
            not_before, not_after = self._window(wave, asset)
            policy = self._reboot(wave, asset)
            AgentJob.objects.create(
                asset=asset,
                agent_id=asset.agent_id,
                wave=wave,
                action=JobAction.INSTALL,
                packages=packages_for(wave, asset),
                reboot_policy=policy,
                reboot=reboot_instructions(
                    asset, policy, not_before=not_before, not_after=not_after, at=now
                ),
                not_before=not_before,
                not_after=not_after,
                created_at=now,
            )
            sent += 1
        return sent

    def collect_results(self, wave: Wave) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in AgentJob.objects.filter(wave=wave).values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def take_snapshot(self, asset: Asset, *, wave: Wave | None = None) -> bool:
        if not asset.agent_id:
            return False
        not_before, not_after = self._window(wave, asset) if wave else (None, None)
        AgentJob.objects.create(
            asset=asset,
            agent_id=asset.agent_id,
            wave=wave,
            action=JobAction.SNAPSHOT,
            packages=[],
            not_before=not_before,
            not_after=not_after,
            created_at=timezone.now(),
        )
        return False

    def rollback(
        self, rollback: RollbackEvent, targets: Sequence[RollbackTarget]
    ) -> dict[RollbackTarget, str]:
        refused: dict[RollbackTarget, str] = {}
        now = timezone.now()
        jobs = []
        for target in targets:
            asset = target.asset
            if not asset.agent_id:
                refused[target] = "No discovery agent on this asset; roll it back through an RMM."
                continue
            jobs.append(
                AgentJob(
                    asset=asset,
                    agent_id=asset.agent_id,
                    wave=target.result.wave if target.result else None,
                    rollback=rollback,
                    action=JobAction.ROLLBACK,
                    packages=target.packages,
                    reboot_policy=target.result.reboot_policy if target.result else "",
                    reboot=reboot_instructions(
                        asset,
                        target.result.reboot_policy if target.result else "",
                        not_before=None,
                        not_after=None,
                        at=now,
                    ),
                    created_at=now,
                )
            )
        AgentJob.objects.bulk_create(jobs)
        return refused


class WebhookConnector(Connector):
    """Every call is an outbox message: written in the caller's transaction, sent by Celery
    after commit (``integrations.outbox``). Its outcome arrives later: a delivered snapshot
    request confirms the snapshot, a dead rollback call fails the rollback's devices."""

    name = "webhook"

    def __init__(self, webhook: RmmWebhook) -> None:
        self.webhook = webhook

    def enqueue(
        self, event: str, payload: dict[str, Any], *, key: str, rollout: str | None = None
    ) -> OutboxMessage:
        """Queue the signed POST of ``{"event": event, **payload}`` (one row per ``key``)."""
        message, _ = outbox.enqueue(
            kind=DeliveryKind.RMM_WEBHOOK,
            event=event,
            target=self.webhook.url,
            payload={"event": event, **payload},
            idempotency_key=f"{event}:{_digest(str(self.webhook.uuid), key)}",
            subject_type="rollout" if rollout else "",
            subject_id=rollout or "",
            max_attempts=self.webhook.max_attempts,
            rmm_webhook=self.webhook,
        )
        return message

    def _asset_payload(self, wave: Wave, asset: Asset) -> dict[str, Any]:
        result = wave.results.filter(asset=asset).first()
        return {
            "id": str(asset.uuid),
            "hostname": asset.hostname,
            "agent_id": asset.agent_id,
            "packages": packages_for(wave, asset),
            "reboot_policy": result.reboot_policy if result else "",
            "not_before": result.window_start if result else None,
            "not_after": result.window_end if result else None,
        }

    def deploy(self, wave: Wave, assets: Sequence[Asset], *, catch_up: bool = False) -> int:
        """Queue ``wave.deploy``; the RMM reports each asset through ``rollouts/<id>/results/``.
        The same deployment queued again (same assets and windows) is the same message; a
        resumed rollout sends again."""
        payload = {
            "rollout": str(wave.rollout.uuid),
            "wave": str(wave.uuid),
            "ring": wave.ring.key,
            "catch_up": catch_up,
            "assets": [self._asset_payload(wave, a) for a in assets],
        }
        resumed = wave.rollout.resumed_at.isoformat() if wave.rollout.resumed_at else ""
        body = json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True)
        self.enqueue("wave.deploy", payload, key=f"{body}|{resumed}", rollout=payload["rollout"])
        return len(assets)

    def collect_results(self, wave: Wave) -> dict[str, int]:
        """Delivery states of the wave's calls to the RMM."""
        counts: dict[str, int] = {}
        for state in OutboxMessage.objects.filter(
            kind=DeliveryKind.RMM_WEBHOOK, payload__wave=str(wave.uuid)
        ).values_list("state", flat=True):
            counts[state] = counts.get(state, 0) + 1
        return counts

    def take_snapshot(self, asset: Asset, *, wave: Wave | None = None) -> bool:
        """Queue ``asset.snapshot``; the snapshot is confirmed when the RMM accepts the call."""
        requested = ""
        if wave is not None:
            result = wave.results.filter(asset=asset).only("snapshot_requested_at").first()
            if result is not None and result.snapshot_requested_at:
                requested = result.snapshot_requested_at.isoformat()
        self.enqueue(
            "asset.snapshot",
            {
                "asset": {"id": str(asset.uuid), "hostname": asset.hostname},
                "wave": str(wave.uuid) if wave else None,
            },
            key=f"{asset.uuid}|{wave.uuid if wave else uuid.uuid4()}|{requested}",
            rollout=str(wave.rollout.uuid) if wave else None,
        )
        return False

    def rollback(
        self, rollback: RollbackEvent, targets: Sequence[RollbackTarget]
    ) -> dict[RollbackTarget, str]:
        """Queue ``rollout.rollback``; the RMM reports each asset back through
        ``rollouts/<id>/rollback-results/``. A call that is given up (dead) fails every device
        still pending."""
        self.enqueue(
            "rollout.rollback",
            {
                "rollout": str(rollback.rollout.uuid),
                "rollback": str(rollback.uuid),
                "wave": str(rollback.wave.uuid) if rollback.wave else None,
                "reason": rollback.what,
                "assets": [
                    {
                        "id": str(t.asset.uuid),
                        "hostname": t.asset.hostname,
                        "agent_id": t.asset.agent_id,
                        "packages": t.packages,
                    }
                    for t in targets
                ],
            },
            key=str(rollback.uuid),
            rollout=str(rollback.rollout.uuid),
        )
        return {}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class RmmWebhookSender:
    """Sends RMM webhook messages: signed JSON, ``Idempotency-Key``, the webhook's timeout."""

    def request(self, message: OutboxMessage) -> outbox.OutboundRequest:
        webhook = message.rmm_webhook
        if webhook is None:
            raise outbox.PermanentDeliveryError("The RMM webhook was removed.")
        if webhook.url != message.target:  # corrected since: the call goes where it is now
            OutboxMessage.objects.filter(pk=message.pk).update(target=webhook.url[:1000])
            message.target = webhook.url
        raw = json.dumps(message.payload, sort_keys=True).encode()
        return outbox.OutboundRequest(
            url=webhook.url,
            body=raw,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(webhook.secret, raw),
                "X-PatchOps-Event": message.event,
                outbox.IDEMPOTENCY_HEADER: message.idempotency_key,
            },
            timeout=float(webhook.timeout_seconds),
        )

    def delivered(self, message: OutboxMessage, at: datetime) -> None:
        hooks.delivered(message=message, at=at)

    def dead(self, message: OutboxMessage, at: datetime) -> None:
        hooks.dead(message=message, at=at)

    def refuse_retry(self, message: OutboxMessage) -> str | None:
        if message.rmm_webhook is None:
            return "The RMM webhook of this call was removed."
        return hooks.retry_refused(message=message)


outbox.register(DeliveryKind.RMM_WEBHOOK, RmmWebhookSender())


def get_connector() -> Connector:
    """The client's active RMM webhook if one is configured, else the built-in agent channel."""
    webhook = RmmWebhook.objects.filter(is_active=True).order_by("pk").first()
    return WebhookConnector(webhook) if webhook else AgentJobConnector()
