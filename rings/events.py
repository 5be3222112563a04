"""Event kinds of rings and rollouts (see ``evidence.contract``).

Deployment, rollback and deployment-verification events name the findings they act on
(``findings``). Events recorded before they did keep their old payload; ``_legacy_deployment``
and ``_legacy_rollback`` find those findings from the wave (or rollout) and the asset, so the
evidence chain still reads them.
"""

from __future__ import annotations

from typing import Any

from evidence.contract import (
    BOOL,
    DATETIME,
    DECIMAL,
    INT,
    OBJECT,
    STR,
    UUID,
    Stage,
    declare,
    list_of,
    nullable,
    optional,
)
from findings.models import Finding


def _legacy_deployment(events: list[Any]) -> dict[int, list[str]]:
    """Old deployment events (subject: the asset; payload: the wave): the rollout's findings on
    that asset."""
    waves = {str(e.payload.get("wave")) for e in events if e.payload.get("wave")}
    assets = {str(e.subject_id) for e in events}
    rows = Finding.objects.filter(
        rollouts__waves__uuid__in=list(waves), asset__uuid__in=list(assets)
    ).values_list("rollouts__waves__uuid", "asset__uuid", "uuid")
    by_key: dict[tuple[str, str], list[str]] = {}
    for wave, asset, finding in rows:
        by_key.setdefault((str(wave), str(asset)), []).append(str(finding))
    return {
        e.pk: sorted(by_key.get((str(e.payload.get("wave")), str(e.subject_id)), []))
        for e in events
    }


def _legacy_rollback(events: list[Any]) -> dict[int, list[str]]:
    """Old rollback events (subject: the rollout; payload: host names): the rollout's findings
    on those hosts."""
    out: dict[int, list[str]] = {}
    for e in events:
        hosts = [h for h in e.payload.get("assets") or [] if isinstance(h, str)]
        out[e.pk] = sorted(
            str(u)
            for u in Finding.objects.filter(
                rollouts__uuid=e.subject_id, asset__hostname__in=hosts
            ).values_list("uuid", flat=True)
        )
    return out


def _deployed(p: dict[str, Any]) -> str:
    return f"Agent reported the patch installed (ring {p['ring']}); awaiting verification"


def _failed(p: dict[str, Any]) -> str:
    reason = (p.get("message") or "").strip()
    return f"Deployment failed in ring {p['ring']}" + (f": {reason}" if reason else "")


def _rolled_back(p: dict[str, Any]) -> str:
    return f"Rolled back ({p['outcome'].replace('_', ' ')}): {p['what']}"


_DEPLOYMENT = {
    "wave": UUID,
    "ring": STR,
    "message": STR,
    "rollout": UUID,
    "findings": list_of(UUID),
}
declare(
    "deployment.succeeded",
    subject="asset",
    stage=Stage.DEPLOYMENT,
    label="Deployed",
    fields=_DEPLOYMENT,
    findings_field="findings",
    legacy_findings=_legacy_deployment,
    summary=_deployed,
)
declare(
    "deployment.failed",
    subject="asset",
    stage=Stage.DEPLOYMENT_FAILED,
    label="Deployment failed",
    fields=_DEPLOYMENT,
    findings_field="findings",
    legacy_findings=_legacy_deployment,
    summary=_failed,
)
declare(
    "rollback.recorded",
    subject="rollout",
    stage=Stage.ROLLBACK,
    label="Rolled back by hand",
    fields={
        "rollback": UUID,
        "what": STR,
        "outcome": STR,
        "wave": nullable(UUID),
        "assets": list_of(STR),
        "findings": list_of(UUID),
    },
    findings_field="findings",
    legacy_findings=_legacy_rollback,
    summary=_rolled_back,
)
_ROLLBACK_AT = {
    "rollback": UUID,
    "rollout": UUID,
    "wave": nullable(UUID),
    "ring": nullable(STR),
    "message": STR,
    "findings": list_of(UUID),
}
declare(
    "rollback.requested",
    subject="rollout",
    label="Rollback requested",
    fields={
        "rollback": UUID,
        "wave": nullable(UUID),
        "ring": nullable(STR),
        "reason": STR,
        "connector": STR,
        "assets": list_of(UUID),
        "findings": list_of(UUID),
    },
    findings_field="findings",
    summary=lambda p: f"Rollback sent through {p['connector']}: {p['reason']}",
)
declare(
    "rollback.succeeded",
    subject="asset",
    stage=Stage.ROLLBACK,
    label="Rolled back",
    fields=_ROLLBACK_AT,
    findings_field="findings",
    summary=lambda p: (
        "The agent reported the update removed" + (f" (ring {p['ring']})" if p.get("ring") else "")
    ),
)
declare(
    "rollback.failed",
    subject="asset",
    label="Rollback failed",
    fields=_ROLLBACK_AT,
    findings_field="findings",
    summary=lambda p: "The rollback failed" + (f": {p['message']}" if p.get("message") else ""),
)
declare(
    "rollback.completed",
    subject="rollout",
    label="Rollback completed",
    fields={
        "rollback": UUID,
        "outcome": STR,
        "rolled_back": INT,
        "failed": INT,
        "findings": list_of(UUID),
    },
)
declare(
    "snapshot.confirmed",
    subject="asset",
    label="Snapshot confirmed",
    fields={"wave": UUID},
)

# --- rings, membership and windows -------------------------------------------------------------

declare(
    "ring.membership_assigned",
    subject="ring",
    label="Ring membership assigned",
    fields={
        "trigger": optional(STR),
        "assets": INT,
        "pinned": INT,
        "held": optional(INT),
        "created": INT,
        "moved": INT,
    },
    extra=INT,  # one count per ring key
)
declare(
    "ring.members_placed",
    subject="ring",
    label="New devices placed in rings",
    fields={
        "trigger": STR,
        "placed": INT,
        "assets": list_of(UUID),
        "hostnames": list_of(STR),
        "rings": list_of(STR),
    },
)
declare(
    "ring.member_pinned",
    subject="asset",
    label="Pinned to a ring",
    fields={"ring": STR, "hostname": STR},
)
declare(
    "ring.member_unpinned",
    subject="asset",
    label="Unpinned from its ring",
    fields={"hostname": STR},
)
_RING_FIELDS = {
    "key": STR,
    "name": STR,
    "order": INT,
    "assignment": STR,
    "soak_hours": INT,
    "failure_threshold_pct": DECIMAL,
    "approver_role": STR,
    "fleet_percent": nullable(INT),
    "canary_size": nullable(INT),
    "verify_timeout_hours": INT,
}
declare(
    "ring.created",
    subject="ring",
    label="Ring created",
    # The ring as the API answers it.
    fields={
        "id": UUID,
        **_RING_FIELDS,
        "member_count": INT,
        "automatic_count": optional(INT),
        "pinned_count": optional(INT),
        "first_seen_count": optional(INT),
        "last_placed_at": optional(nullable(DATETIME)),
    },
)
declare(
    "ring.updated",
    subject="ring",
    label="Ring changed",
    # The changed settings as text, whichever were given.
    fields={name: optional(STR) for name in _RING_FIELDS},
)
declare(
    "ring.deleted",
    subject="ring",
    label="Ring deleted",
    fields={"key": STR, "members": optional(INT)},
)
declare(
    "window.created",
    subject="maintenance_window",
    label="Maintenance window added",
    fields={"name": STR, "recurrence": STR},
)
declare(
    "window.updated",
    subject="maintenance_window",
    label="Maintenance window changed",
    # The page's edit also says what the window was and became, in words, and which fields.
    fields={
        "name": STR,
        "recurrence": optional(STR),
        "before": optional(STR),
        "after": optional(STR),
        "changed": optional(list_of(STR)),
    },
)
declare(
    "window.deleted",
    subject="maintenance_window",
    label="Maintenance window deleted",
    fields={"name": STR},
)
for _kind, _label in (
    ("runbook.check_created", "Runbook check added"),
    ("runbook.check_updated", "Runbook check changed"),
    ("runbook.check_deleted", "Runbook check deleted"),
):
    declare(
        _kind,
        subject="runbook_check",
        label=_label,
        fields={"name": STR, "halts_on_failure": BOOL},
    )

# --- rollouts and waves -------------------------------------------------------------------------

declare(
    "rollout.created",
    subject="rollout",
    label="Rollout created",
    fields={
        "name": STR,
        "selection": STR,
        "patches": list_of(STR),
        "findings": list_of(UUID),
        "rings": list_of(STR),
        "expedited": BOOL,
        "expedite_reason": STR,
        "soak_hours": nullable(INT),
        "due_at": nullable(DATETIME),
        # Who approves the start (a patch policy's approval step); absent before policies.
        "start_approver": optional(STR),
    },
)
_ENDED = {
    "deployed": INT,
    "verified": INT,
    "failed": INT,
    "rolled_back": INT,
    "waves": INT,
    "skipped_waves": INT,
    "expedited": BOOL,
    "reason": optional(STR),
}
declare("rollout.completed", subject="rollout", label="Rollout completed", fields=_ENDED)
declare(
    "rollout.nothing_deployed",
    subject="rollout",
    label="Rollout ended: nothing deployed",
    fields=_ENDED,
)
declare(
    "rollout.resumed",
    subject="rollout",
    label="Rollout resumed",
    fields={
        "reason": STR,
        "halt_reason": STR,
        "wave": nullable(UUID),
        "ring": nullable(STR),
        "state": nullable(STR),
        "accepted_failed": INT,
        "requeued": INT,
        "findings": list_of(UUID),
    },
    findings_field="findings",
    summary=lambda p: f"Resumed after a halt: {p['reason']}",
)
declare(
    "rollout.halted",
    subject="rollout",
    label="Rollout halted",
    fields={"reason": STR, "ring": nullable(STR), "cancelled_jobs": INT},
)

_WAVE = {"rollout": UUID, "ring": STR}
_COUNTS = {"counts": optional(OBJECT), "failure_rate": optional(nullable(DECIMAL))}
declare(
    "wave.approved",
    subject="wave",
    label="Wave approved",
    fields={**_WAVE, "role": STR, "expedited": optional(BOOL)},
)
declare(
    "wave.skipped",
    subject="wave",
    label="Wave skipped (nothing to test)",
    fields={**_WAVE, "members": INT, "reason": STR},
)
declare(
    "wave.passed",
    subject="wave",
    label="Wave passed",
    fields={**_WAVE, "reason": optional(STR), **_COUNTS},
)
declare(
    "wave.awaiting",
    subject="wave",
    label="Wave awaiting approval and window",
    fields={
        **_WAVE,
        "assets": INT,
        "window_start": nullable(DATETIME),
        "findings": optional(list_of(UUID)),
    },
)
declare(
    "wave.promoted",
    subject="wave",
    label="Wave promoted",
    fields={
        **_WAVE,
        "approved_by": nullable(STR),
        "approver_role": STR,
        "automatic": optional(BOOL),
        "expedited": optional(BOOL),
        "window_start": DATETIME,
        "window_end": DATETIME,
    },
)
declare(
    "wave.caught_up",
    subject="wave",
    label="Wave caught up",
    fields={
        **_WAVE,
        "window_start": optional(DATETIME),
        "missed_end": optional(DATETIME),
        "assets": optional(list_of(STR)),
        "findings": optional(list_of(UUID)),
    },
)
declare(
    "wave.snapshots_requested",
    subject="wave",
    label="Snapshots requested",
    fields={**_WAVE, "assets": INT},
)
declare(
    "wave.prechecks_passed",
    subject="wave",
    label="Pre-checks passed",
    fields={
        **_WAVE,
        "window_confirmed_at": DATETIME,
        "snapshots_confirmed": INT,
        "restart": OBJECT,
    },
)
declare(
    "wave.deploying",
    subject="wave",
    label="Wave deploying",
    fields={
        **_WAVE,
        "connector": STR,
        "assets": INT,
        "without_window": INT,
        "findings": optional(list_of(UUID)),
    },
)
declare("wave.deployed", subject="wave", label="Wave deployed", fields={**_WAVE, **_COUNTS})
declare("wave.verifying", subject="wave", label="Wave verifying", fields=_WAVE)
declare(
    "wave.soaking",
    subject="wave",
    label="Wave soaking",
    fields={**_WAVE, "soak_ends_at": DATETIME, "soak_hours": optional(INT), "unverified": INT},
)
declare("wave.halted", subject="wave", label="Wave halted", fields={**_WAVE, "reason": STR})
declare(
    "deployment.verified",
    subject="wave",
    label="Deployment verified by inventory",
    fields={**_WAVE, "assets": INT, "findings": list_of(UUID)},
    findings_field="findings",
    summary=lambda p: f"Inventory verified the deployment (ring {p['ring']})",
)
declare(
    "deployment.unconfirmed",
    subject="asset",
    label="Deployment not in the OS's records",
    fields={
        **_WAVE,
        "wave": UUID,
        "hostname": STR,
        "deployed_at": DATETIME,
        "records_through": DATETIME,
        "patches": list_of(STR),
        "findings": list_of(UUID),
        "os_failures": list_of(OBJECT),
    },
    findings_field="findings",
    summary=lambda p: (
        f"Reported installed in ring {p['ring']}, but the OS's install records up to "
        f"{p['records_through']} do not show {', '.join(p['patches'])}"
        + (f" (the OS recorded {len(p['os_failures'])} failure(s))" if p["os_failures"] else "")
    ),
)
declare(
    "runbook.check_recorded",
    subject="wave",
    label="Runbook check recorded",
    fields={**_WAVE, "check": STR, "passed": BOOL, "note": STR},
)

_POLICY = {
    "name": STR,
    "active": BOOL,
    "updates": STR,
    "when": STR,
    "asset_classes": list_of(STR),
    "rings": list_of(STR),
    "approver": STR,
    "template": nullable(UUID),
}
declare("policy.created", subject="patch_policy", label="Patch policy added", fields=_POLICY)
declare("policy.updated", subject="patch_policy", label="Patch policy changed", fields=_POLICY)
declare(
    "policy.deleted", subject="patch_policy", label="Patch policy removed", fields={"name": STR}
)
declare(
    "policy.ran",
    subject="patch_policy",
    label="Patch policy ran",
    fields={
        "run": UUID,
        "name": STR,
        "occurrence": DATETIME,
        "outcome": STR,
        "rollout": nullable(UUID),
        "findings": INT,
        "message": STR,
    },
)
declare(
    "rollout.findings_added",
    subject="rollout",
    label="Findings added to the rollout",
    fields={"patches": list_of(STR), "findings": list_of(UUID), "added": list_of(UUID)},
    findings_field="added",
    summary=lambda p: f"{len(p['added'])} finding(s) added; patches {', '.join(p['patches'])}",
)

# --- restore tests ------------------------------------------------------------------------------

_RESTORE = {"asset": UUID, "hostname": STR, "scheduled_for": STR, "what": STR}
declare(
    "restore_test.scheduled",
    subject="restore_test",
    label="Restore test scheduled",
    fields=_RESTORE,
)
declare(
    "restore_test.recorded",
    subject="restore_test",
    label="Restore test recorded",
    fields={
        **_RESTORE,
        "outcome": STR,
        "performed_at": DATETIME,
        "performed_by": STR,
        "evidence_url": STR,
        "note": STR,
    },
)
declare(
    "restore_test.rule_changed",
    subject="restore_test_rule",
    label="Restore-test rule changed",
    fields={"max_age_days": INT, "gate_waves": BOOL},
)
declare(
    "wave.restore_test_missing",
    subject="wave",
    label="Wave held: restore test missing",
    fields={**_WAVE, "max_age_days": INT, "assets": list_of(STR), "reason": STR},
)
