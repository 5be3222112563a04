"""Event kinds of exposure monitoring (see ``evidence.contract``)."""

from __future__ import annotations

from evidence.contract import BOOL, DATETIME, INT, STR, declare, nullable

declare(
    "exposure.alert_received",
    subject="exposure_alert",
    label="Exposure alert received",
    fields={
        "email": STR,
        "source": STR,
        "exposed": STR,
        "breach": STR,
        "exposed_at": nullable(DATETIME),
        "due_at": DATETIME,
        "via": STR,
        "reset_via": STR,
    },
    summary=lambda p: f"{p['exposed']} of {p['email']} exposed in {p['breach']} ({p['source']})",
)
declare(
    "exposure.alert_merged",
    subject="exposure_alert",
    label="Duplicate exposure alert merged",
    fields={"duplicates": INT, "via": STR},
    summary=lambda p: f"the same exposure reported again; {p['duplicates']} duplicate(s) merged",
)
declare(
    "exposure.step_done",
    subject="exposure_alert",
    label="Exposure response step done",
    fields={"step": STR, "reference": STR, "minutes": INT, "within_sla": BOOL, "detail": STR},
    summary=lambda p: p["detail"],
)
declare(
    "exposure.step_failed",
    subject="exposure_alert",
    label="Exposure response step failed",
    fields={"step": STR, "reference": STR, "detail": STR},
    summary=lambda p: p["detail"],
)
declare(
    "exposure.step_overdue",
    subject="exposure_alert",
    label="Exposure response step overdue",
    fields={"step": STR, "due_at": DATETIME},
    summary=lambda p: f"{p['step']} step not done by its due time {p['due_at']}",
)
