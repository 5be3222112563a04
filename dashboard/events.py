"""Event kinds of the cross-client pages (see ``evidence.contract``)."""

from __future__ import annotations

from evidence.contract import STR, declare

declare(
    "client.plan_changed",
    subject="client",
    label="Service plan changed",
    fields={"from": STR, "to": STR, "label": STR},
    summary=lambda p: f"service plan changed from {p['from']} to {p['to']} ({p['label']})",
)
