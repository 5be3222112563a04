"""Event kinds of the patch core: a finding's detection, re-tiering, re-opening, verification,
and SLA policy changes (see ``evidence.contract``)."""

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
    record,
)


def _detected(p: dict[str, Any]) -> str:
    text = f"{p['patch']} missing on {p['hostname']}: {p['tier']}"
    if p.get("kev"):
        text += ", in CISA KEV"
    if p.get("cves"):
        text += f" ({', '.join(p['cves'][:3])}{'…' if len(p['cves']) > 3 else ''})"
    return text + f", risk score {p['risk_score']}"


def _verified(p: dict[str, Any]) -> str:
    on_time = "within its SLA" if p.get("within_sla") else "after its due time"
    text = f"Fix proven by inventory: {p['proof']} ({on_time})"
    record = p.get("os_record")
    if record:
        text += (
            f"; the OS recorded the install: {record['source']} record {record['record_id']}"
            f" at {record['occurred_at']}"
        )
    return text


declare(
    "finding.detected",
    subject="finding",
    subject_is_finding=True,
    stage=Stage.DETECTION,
    label="Detected",
    fields={
        "asset": UUID,
        "hostname": STR,
        "patch": STR,
        "package": STR,
        "installed_version": STR,
        "fixed_version": STR,
        "advisory": nullable(STR),
        "cves": list_of(STR),
        "kev": BOOL,
        "tier": STR,
        "risk_score": DECIMAL,
        "origin": STR,
        "detected_at": DATETIME,
        "due_at": DATETIME,
    },
    summary=_detected,
)
declare(
    "finding.reopened",
    subject="finding",
    subject_is_finding=True,
    stage=Stage.REOPENED,
    label="Re-opened",
    fields={"patch": STR, "tier": STR},
    summary=lambda p: f"{p['patch']} reported missing again ({p['tier']})",
)
declare(
    "finding.retiered",
    subject="finding",
    subject_is_finding=True,
    label="Tier changed",
    fields={
        "patch": STR,
        "from": STR,
        "to": STR,
        "kev_cves": list_of(STR),
        "due_at": DATETIME,
    },
    summary=lambda p: (
        f"Tier {p['from']} → {p['to']}"
        + (f" (CISA KEV: {', '.join(p['kev_cves'])})" if p["kev_cves"] else "")
    ),
)
declare(
    "finding.superseded",
    subject="finding",
    subject_is_finding=True,
    label="Superseded by a later update",
    fields={
        "patch": STR,
        "from_patch": STR,
        "from_tier": STR,
        "tier": STR,
        "kev_cves": list_of(STR),
        "due_at": DATETIME,
    },
    summary=lambda p: f"{p['from_patch']} replaced by {p['patch']} ({p['tier']})",
)
declare(
    "finding.verified",
    subject="finding",
    subject_is_finding=True,
    stage=Stage.VERIFICATION,
    label="Verified",
    fields={
        "patch": STR,
        "hostname": STR,
        "from_state": STR,
        "proof": STR,
        "verified_at": DATETIME,
        "within_sla": BOOL,
        # Absent in events recorded before OS install records were collected.
        "os_record": optional(
            nullable(
                record(
                    {
                        "source": STR,
                        "record_id": STR,
                        "occurred_at": DATETIME,
                        "name": STR,
                        "version": STR,
                        "kb": STR,
                    }
                )
            )
        ),
        # Absent in events recorded before restarts held verification.
        "held_for_restart_since": optional(nullable(DATETIME)),
    },
    summary=_verified,
)
declare(
    "finding.verification_held",
    subject="finding",
    subject_is_finding=True,
    label="Verification waits for a restart",
    fields={"patch": STR, "hostname": STR, "proof": STR, "reason": STR},
    summary=lambda p: f"{p['patch']} installed on {p['hostname']}; waits for a restart",
)
declare(
    "sla_policy.changed",
    subject="sla_policy",
    label="SLA policy changed",
    fields={"changed_rules": list_of(OBJECT), "redated_findings": INT, "change": INT},
)

declare(
    "sla_policy.threshold_changed",
    subject="sla_policy",
    label="SLA failure-rate threshold changed",
    fields={"failure_rate_threshold_pct": STR, "previous": STR},
)


def _sla_milestone(what: str) -> Any:
    def summary(p: dict[str, Any]) -> str:
        return f"{p['patch']} on {p['hostname']} ({p['tier']}) {what} {p['due_at']}"

    return summary


_SLA_FIELDS = {
    "asset": UUID,
    "hostname": STR,
    "patch": STR,
    "tier": STR,
    "kev": BOOL,
    "state": STR,
    "detected_at": DATETIME,
    "due_at": DATETIME,
}
declare(
    "finding.due_soon",
    subject="finding",
    subject_is_finding=True,
    label="SLA due soon",
    fields={**_SLA_FIELDS, "hours_left": INT},
    summary=_sla_milestone("is due at"),
)
declare(
    "finding.overdue",
    subject="finding",
    subject_is_finding=True,
    label="SLA breached",
    fields=_SLA_FIELDS,
    summary=_sla_milestone("passed its SLA due time"),
)
declare(
    "finding.triage_requested",
    subject="finding",
    subject_is_finding=True,
    label="Triage requested",
    fields={"patch": STR, "hostname": STR, "kind": STR, "reason": STR, "triage": UUID},
    summary=lambda p: (
        f"Asked to close {p['patch']} as {p['kind'].replace('_', ' ')}: {p['reason']}"
    ),
)
declare(
    "finding.triage_approved",
    subject="finding",
    subject_is_finding=True,
    label="Triage approved",
    fields={
        "patch": STR,
        "hostname": STR,
        "kind": STR,
        "reason": STR,
        "triage": UUID,
        "requested_by": STR,
        "approved_by": STR,
        "note": STR,
        "from_state": STR,
    },
    summary=lambda p: (
        f"Closed as {p['kind'].replace('_', ' ')}: {p['reason']} "
        f"(asked by {p['requested_by']}, approved by {p['approved_by']})"
    ),
)
declare(
    "finding.triage_rejected",
    subject="finding",
    subject_is_finding=True,
    label="Triage rejected",
    fields={
        "patch": STR,
        "kind": STR,
        "triage": UUID,
        "requested_by": STR,
        "rejected_by": STR,
        "note": STR,
    },
    summary=lambda p: (
        f"Not closed as {p['kind'].replace('_', ' ')} ({p['rejected_by']}: {p['note']}); "
        "still open work"
    ),
)
declare(
    "finding.manually_remediated",
    subject="finding",
    subject_is_finding=True,
    label="Fixed by hand",
    fields={"patch": STR, "hostname": STR, "what": STR, "done_at": DATETIME},
    summary=lambda p: f"Fixed by hand: {p['what']} (awaits an inventory showing the fix)",
)
declare(
    "finding.check_requested",
    subject="finding",
    subject_is_finding=True,
    label="Fix checked",
    fields={"patch": STR, "hostname": STR, "verified": BOOL},
    summary=lambda p: (
        "Checked against the latest inventory: "
        + ("the fix is installed" if p["verified"] else "the fix is not shown yet")
    ),
)
