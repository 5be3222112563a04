"""Connectors execute a wave: deploy to assets, report results, take snapshots, roll back.

* ``AgentJobConnector`` (built in): jobs wait as ``AgentJob`` rows; the device's discovery agent
  polls ``agent-jobs/``, runs them with the platform's package tool and posts the result back.
* ``WebhookConnector``: POSTs signed JSON to an RMM (``X-PatchOps-Signature: sha256=<hex>``,
  HMAC-SHA256 of the raw body with the webhook's secret), with a timeout and recorded retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from . import hooks
from .choices import DeliveryStatus, JobAction, JobStatus
from .models import AgentJob, RmmWebhook, WebhookDelivery

if TYPE_CHECKING:
    from inventory.models import Asset
    from rings.models import RollbackEvent, RollbackTarget, Rollout, Wave

__all__ = [
    "Connector",
    "AgentJobConnector",
    "WebhookConnector",
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
            AgentJob.objects.create(
                asset=asset,
                agent_id=asset.agent_id,
                wave=wave,
                action=JobAction.INSTALL,
                packages=packages_for(wave, asset),
                reboot_policy=self._reboot(wave, asset),
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
                    created_at=now,
                )
            )
        AgentJob.objects.bulk_create(jobs)
        return refused


class WebhookConnector(Connector):
    name = "webhook"

    def __init__(self, webhook: RmmWebhook, *, backoff_seconds: float = 0.5) -> None:
        self.webhook = webhook
        self.backoff_seconds = backoff_seconds

    def send(self, event: str, payload: dict[str, Any]) -> WebhookDelivery:
        """POST signed JSON; retries up to ``max_attempts`` times; every attempt is recorded."""
        body = json.dumps({"event": event, **payload}, cls=DjangoJSONEncoder, sort_keys=True)
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.webhook.secret, raw),
            "X-PatchOps-Event": event,
        }
        errors: list[dict[str, Any]] = []
        status_code = None
        attempts = 0
        delivered = False
        for attempt in range(1, max(self.webhook.max_attempts, 1) + 1):
            attempts = attempt
            request = urllib.request.Request(
                self.webhook.url, data=raw, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.webhook.timeout_seconds) as resp:
                    status_code = resp.status
                delivered = 200 <= status_code < 300
                if delivered:
                    break
                errors.append({"attempt": attempt, "error": f"HTTP {status_code}"})
            except urllib.error.HTTPError as exc:
                status_code = exc.code
                errors.append({"attempt": attempt, "error": f"HTTP {exc.code}"})
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                errors.append({"attempt": attempt, "error": str(getattr(exc, "reason", exc))})
            if attempt < self.webhook.max_attempts:
                time.sleep(self.backoff_seconds * attempt)
        return WebhookDelivery.objects.create(
            webhook=self.webhook,
            event=event,
            payload=json.loads(body),
            status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED,
            attempts=attempts,
            response_status=status_code,
            errors=errors,
            created_at=timezone.now(),
        )

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
        delivery = self.send(
            "wave.deploy",
            {
                "rollout": str(wave.rollout.uuid),
                "wave": str(wave.uuid),
                "ring": wave.ring.key,
                "catch_up": catch_up,
                "assets": [self._asset_payload(wave, a) for a in assets],
            },
        )
        return len(assets) if delivery.status == DeliveryStatus.DELIVERED else 0

    def collect_results(self, wave: Wave) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in WebhookDelivery.objects.filter(payload__wave=str(wave.uuid)).values_list(
            "status", flat=True
        ):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def take_snapshot(self, asset: Asset, *, wave: Wave | None = None) -> bool:
        delivery = self.send(
            "asset.snapshot",
            {
                "asset": {"id": str(asset.uuid), "hostname": asset.hostname},
                "wave": str(wave.uuid) if wave else None,
            },
        )
        return delivery.status == DeliveryStatus.DELIVERED

    def rollback(
        self, rollback: RollbackEvent, targets: Sequence[RollbackTarget]
    ) -> dict[RollbackTarget, str]:
        """POST ``rollout.rollback``; the RMM reports each asset back through
        ``rollouts/<id>/rollback-results/``. An undelivered call fails every target."""
        delivery = self.send(
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
        )
        if delivery.status == DeliveryStatus.DELIVERED:
            return {}
        error = delivery.errors[-1]["error"] if delivery.errors else "no answer"
        message = f"The RMM webhook was not delivered ({error}); nothing was rolled back."
        return {target: message for target in targets}


def get_connector() -> Connector:
    """The client's active RMM webhook if one is configured, else the built-in agent channel."""
    webhook = RmmWebhook.objects.filter(is_active=True).order_by("pk").first()
    return WebhookConnector(webhook) if webhook else AgentJobConnector()
