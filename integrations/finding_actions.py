"""“Open a PSA ticket” on the findings pages (``findings.hooks.FindingAction``): one patching
ticket naming the chosen findings, queued for the PSA through ``open_ticket``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from findings.hooks import FindingAction

from .choices import TicketCategory, TicketPriority
from .services import open_ticket

DESCRIBED = 50


def _context(*, client: Any) -> dict[str, Any]:
    return {"ticket_priorities": TicketPriority.choices}


def run(*, client: Any, findings: list[Any], data: Any, actor: Any, at: datetime) -> str:
    patches = sorted({f.patch_identifier for f in findings})
    hosts = sorted({f.asset.hostname for f in findings})
    summary = (data.get("ticket-summary") or "").strip() or (
        f"Patch {', '.join(patches[:3])}{'…' if len(patches) > 3 else ''} "
        f"on {len(hosts)} device{'s' if len(hosts) != 1 else ''}"
    )
    lines = [
        f"- {f.patch_identifier} on {f.asset.hostname} ({f.get_tier_display()}, "
        f"due {f.due_at:%Y-%m-%d %H:%M} UTC)"
        for f in findings[:DESCRIBED]
    ]
    if len(findings) > DESCRIBED:
        lines.append(f"… and {len(findings) - DESCRIBED} more")
    note = (data.get("ticket-note") or "").strip()
    ticket = open_ticket(
        category=TicketCategory.PATCHING,
        summary=summary,
        description=(note + "\n\n" if note else "") + "\n".join(lines),
        priority=(data.get("ticket-priority") or TicketPriority.MEDIUM).strip(),
        related={"findings": sorted(str(f.uuid) for f in findings)},
        at=at,
        actor=actor,
    )
    return f"PSA ticket “{ticket.summary}” queued ({ticket.get_priority_display()} priority)."


ACTION = FindingAction(
    key="ticket",
    label="Open a PSA ticket",
    run=run,
    fields_template="integrations/partials/_finding_action_ticket.html",
    order=30,
    context=_context,
)
