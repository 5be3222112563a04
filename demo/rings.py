"""Demo data of the rings app for ``seed_demo``: windows, ring membership, one rollout in
progress (canary passed, pilot soaking) and one halted by a failure-rate breach with its ticket.

Runs inside the client's schema after the inventory and findings demo data. Every step goes
through the services with explicit times inside real past windows, so the evidence log, the
agent jobs and the PSA ticket tell the same story the board shows.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from common.choices import OsFamily
from findings.choices import FindingOrigin, FindingState, SeverityTier
from findings.models import Finding
from integrations.choices import JobAction, JobStatus
from integrations.models import AgentJob
from integrations.services import record_job_result
from inventory.choices import AssetRole, AssetSource
from inventory.models import Asset, AssetClass
from rings import windows
from rings.choices import RolloutSelection, WindowRecurrence, WindowScope
from rings.models import MaintenanceWindow, Ring, RunbookCheck, Wave
from rings.services import (
    approve_wave,
    assign_rings,
    create_rollout,
    evaluate_rollout,
    record_runbook_check,
)
from tenants.models import User

ENGINEER = "engineer@patchops.test"


def _windows() -> MaintenanceWindow:
    MaintenanceWindow.objects.get_or_create(
        name="Patch Tuesday + 4 days",
        defaults={
            "scope": WindowScope.CLIENT,
            "recurrence": WindowRecurrence.PATCH_TUESDAY,
            "offset_days": 4,
            "start_time": time(22, 0),
            "duration_minutes": 240,
        },
    )
    weekly, _ = MaintenanceWindow.objects.get_or_create(
        name="Weekly Sunday 02:00",
        defaults={
            "scope": WindowScope.CLIENT,
            "recurrence": WindowRecurrence.WEEKLY,
            "weekdays": [6],
            "start_time": time(2, 0),
            "duration_minutes": 180,
        },
    )
    return weekly


def _fallback_fleet(now: datetime) -> None:
    """A small fleet when the inventory demo has not provided one."""
    classes = {c.key: c for c in AssetClass.objects.all()}
    rows = (
        [
            (f"FRONTDESK-{i:02d}", OsFamily.WINDOWS, AssetRole.WORKSTATION, "workstation")
            for i in range(1, 15)
        ]
        + [
            (f"EXAM-{i:02d}", OsFamily.WINDOWS, AssetRole.SHARED_KIOSK, "workstation")
            for i in range(1, 5)
        ]
        + [
            (f"MAC-{i:02d}", OsFamily.MACOS, AssetRole.WORKSTATION, "workstation")
            for i in range(1, 4)
        ]
        + [("FS-01", OsFamily.WINDOWS, AssetRole.SERVER, "core_server")]
        + [("EHR-DB-01", OsFamily.LINUX, AssetRole.SERVER, "do_not_disrupt")]
        + [("web-01", OsFamily.LINUX, AssetRole.SERVER, "core_server")]
    )
    for hostname, family, role, klass in rows:
        Asset.objects.get_or_create(
            hostname=hostname,
            defaults={
                "agent_id": f"demo-{hostname.lower()}",
                "os_family": family,
                "role": role,
                "asset_class": classes[klass],
                "source": AssetSource.AGENT,
                "first_seen": now - timedelta(days=90),
                "last_seen": now - timedelta(hours=3),
            },
        )


def _ensure_findings(patch: str, family: str, now: datetime) -> None:
    if Finding.objects.filter(patch_identifier=patch).exists():
        return
    for asset in Asset.objects.filter(is_managed=True, os_family=family):
        Finding.objects.get_or_create(
            asset=asset,
            patch_identifier=patch,
            defaults={
                "tier": SeverityTier.CRITICAL,
                "origin": FindingOrigin.PENDING_UPDATE,
                "detected_at": now - timedelta(days=20),
                "due_at": now + timedelta(days=5),
            },
        )


def _openings(window: MaintenanceWindow, before: datetime, count: int) -> list[datetime]:
    tz = connection.tenant.tz
    found = []
    for start, end in windows.occurrences(
        window.spec, tz, (before - timedelta(days=40)).astimezone(tz).date()
    ):
        if end + timedelta(hours=3) > before:
            break
        found.append(start)
    return found[-count:]


def _report(wave: Wave, at: datetime, *, fail: int = 0, action: str = JobAction.INSTALL) -> None:
    jobs = AgentJob.objects.filter(
        wave=wave, action=action, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
    ).order_by("asset__hostname")
    for index, job in enumerate(jobs):
        ok = index >= fail
        record_job_result(
            job=job,
            actor=f"token:agent-{job.agent_id}",
            at=at + timedelta(minutes=4 + index),
            payload={
                "agent_id": job.agent_id,
                "status": "succeeded" if ok else "failed",
                "dry_run": False,
                "packages": [
                    {
                        "name": p["name"],
                        "version": p["version"],
                        "status": "installed" if ok else "failed",
                        "message": "" if ok else "Installation failure: 0x800f0922",
                    }
                    for p in job.packages
                ],
                "log": "demo",
            },
        )


def _verify(wave: Wave, at: datetime) -> None:
    wave.rollout.findings.filter(
        asset__in=wave.results.values("asset"), state=FindingState.DEPLOYED
    ).update(state=FindingState.VERIFIED, verified_at=at, updated_at=at)


def _run_until_deploying(rollout, wave: Wave, at: datetime) -> None:
    evaluate_rollout(rollout=rollout, at=at)
    wave.refresh_from_db()
    if wave.state == "prechecks":
        _report(wave, at, action=JobAction.SNAPSHOT)
        evaluate_rollout(rollout=rollout, at=at + timedelta(minutes=10))


def seed_client(client: Any) -> dict[str, Any]:
    now = timezone.now()
    rng = random.Random(client.slug)
    weekly = _windows()
    if not Asset.objects.filter(is_managed=True).exists():
        _fallback_fleet(now)
    assign_rings(actor="system:demo", at=now - timedelta(days=30))
    engineer = (
        User.objects.filter(email=ENGINEER).first()
        or User.objects.filter(staff_role="engineer").first()
    )
    if engineer is None:
        return {"rollouts": 0}
    # Pilot soaks a full week in the demo so the board shows a soak in progress.
    Ring.objects.filter(key="pilot").update(soak_hours=192)
    families = Counter(Asset.objects.filter(is_managed=True).values_list("os_family", flat=True))
    family = families.most_common(1)[0][0]
    patches = (
        ("KB5036893", "KB5037771") if family == OsFamily.WINDOWS else ("USN-6737-1", "USN-6752-1")
    )
    for patch in patches:
        _ensure_findings(patch, family, now)
    first, second, third = _openings(weekly, now, 3)
    checks = list(RunbookCheck.objects.filter(is_active=True))

    # 1. In progress: canary passed, pilot soaking.
    rollout = create_rollout(
        name=f"{patches[0]} cumulative update",
        actor=engineer,
        selection=RolloutSelection.PATCH_IDENTIFIERS,
        patch_identifiers=[patches[0]],
        at=first - timedelta(days=2),
    )
    evaluate_rollout(rollout=rollout, at=first - timedelta(days=2))
    canary = rollout.waves.get(ring__key="canary")
    approve_wave(wave=canary, user=engineer, at=first - timedelta(days=1))
    _run_until_deploying(rollout, canary, first + timedelta(minutes=5))
    _report(canary, first + timedelta(minutes=10))
    evaluate_rollout(rollout=rollout, at=first + timedelta(minutes=40))
    _verify(canary, first + timedelta(hours=5))
    evaluate_rollout(rollout=rollout, at=first + timedelta(hours=6))
    for check in checks:
        record_runbook_check(
            wave=canary,
            check=check,
            passed=True,
            actor=engineer,
            at=first + timedelta(hours=8, minutes=rng.randint(0, 50)),
        )
    canary.refresh_from_db()
    evaluate_rollout(rollout=rollout, at=canary.soak_ends_at + timedelta(minutes=5))
    pilot = rollout.waves.get(ring__key="pilot")
    approve_wave(wave=pilot, user=engineer, at=canary.soak_ends_at + timedelta(hours=2))
    # 2. Halted: a breach in canary opened a PSA ticket.
    halted = create_rollout(
        name=f"{patches[1]} out-of-band update",
        actor=engineer,
        selection=RolloutSelection.PATCH_IDENTIFIERS,
        patch_identifiers=[patches[1]],
        at=second - timedelta(days=1),
    )
    evaluate_rollout(rollout=halted, at=second - timedelta(days=1))
    canary2 = halted.waves.get(ring__key="canary")
    approve_wave(wave=canary2, user=engineer, at=second - timedelta(hours=20))
    _run_until_deploying(halted, canary2, second + timedelta(minutes=5))
    _report(canary2, second + timedelta(minutes=10), fail=2)
    evaluate_rollout(rollout=halted, at=second + timedelta(minutes=45))

    # Back to the first rollout: the pilot deploys in the latest window and soaks now.
    _run_until_deploying(rollout, pilot, third + timedelta(minutes=5))
    _report(pilot, third + timedelta(minutes=15))
    evaluate_rollout(rollout=rollout, at=third + timedelta(minutes=50))
    _verify(pilot, min(third + timedelta(hours=2), now - timedelta(minutes=30)))
    evaluate_rollout(rollout=rollout, at=min(third + timedelta(hours=2, minutes=5), now))

    return {"rollouts": 2}
