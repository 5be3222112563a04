"""Event kinds of the integrations: PSA tickets, agent jobs and outbox messages (see
``evidence.contract``)."""

from __future__ import annotations

from evidence.contract import BOOL, DATETIME, INT, OBJECT, STR, declare, list_of, nullable

declare(
    "ticket.queued",
    subject="psa_ticket",
    label="PSA ticket queued",
    fields={
        "category": STR,
        "summary": STR,
        "priority": STR,
        "after_hours": BOOL,
        "related": OBJECT,
    },
)
declare(
    "agent_job.dry_run",
    subject="agent_job",
    label="Agent job dry run",
    fields={"status": STR, "packages": list_of(OBJECT)},
)
declare(
    "agent_job.expired",
    subject="agent_job",
    label="Agent job expired (window missed)",
    fields={"not_after": nullable(DATETIME)},
)
for _kind, _label in (
    ("agent_job.succeeded", "Agent job succeeded"),
    ("agent_job.failed", "Agent job failed"),
):
    declare(
        _kind,
        subject="agent_job",
        label=_label,
        fields={"action": STR, "packages": list_of(OBJECT)},
    )
declare(
    "asset.reboot_approved",
    subject="asset",
    label="Restart approved",
    fields={"hostname": STR, "job": STR, "pending_since": nullable(DATETIME)},
    summary=lambda p: f"Restart of {p['hostname']} approved",
)
declare(
    "delivery.retried",
    subject="outbox_message",
    label="Outbound call sent again",
    fields={"event": STR, "target": STR, "idempotency_key": STR, "last_error": STR},
)
declare(
    "psa_connection.saved",
    subject="psa_connection",
    label="PSA connection saved",
    fields={
        "name": STR,
        "kind": STR,
        "base_url": STR,
        "company": STR,
        "board": STR,
        "created": BOOL,
    },
)
declare(
    "rmm_connection.saved",
    subject="rmm_connection",
    label="RMM connection saved",
    fields={"name": STR, "kind": STR, "base_url": STR, "enabled": BOOL, "created": BOOL},
)
declare(
    "ticket.sent",
    subject="psa_ticket",
    label="PSA ticket created in the PSA",
    fields={"psa": STR, "external_id": STR},
)
declare(
    "ticket.closed",
    subject="psa_ticket",
    label="PSA ticket closed by PatchOps",
    fields={"reason": STR, "evidence": STR, "external_id": STR},
)
declare(
    "ticket.reported",
    subject="psa_ticket",
    label="PSA ticket reported by the PSA",
    fields={"external_id": STR, "status": STR, "meaning": STR, "after_hours": BOOL, "via": STR},
)
declare(
    "ticket.status_changed",
    subject="psa_ticket",
    label="PSA ticket status changed in the PSA",
    fields={"external_id": STR, "status": STR, "meaning": STR, "previous": STR, "via": STR},
)
declare(
    "ticket.closed_in_psa",
    subject="psa_ticket",
    label="PSA ticket closed in the PSA",
    fields={"external_id": STR, "status": STR, "via": STR},
)
declare(
    "scan_subnet.designated",
    subject="scan_subnet",
    label="Scanner designated for a subnet",
    fields={
        "scanner": STR,
        "cidr": STR,
        "top_ports": nullable(INT),
        "ports": STR,
        "timing": INT,
    },
    summary=lambda p: f"{p['scanner']} scans {p['cidr']}",
)
declare(
    "scan_subnet.removed",
    subject="scan_subnet",
    label="Scanner designation removed",
    fields={"scanner": STR, "cidr": STR},
    summary=lambda p: f"{p['scanner']} no longer scans {p['cidr']}",
)
