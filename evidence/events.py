"""Event kinds the evidence app records (see ``evidence.contract``)."""

from __future__ import annotations

from .contract import INT, STR, declare

declare(
    "report.generated",
    subject="report",
    label="Report generated",
    fields={
        "kind": STR,
        "period": STR,
        "version": INT,
        "sha256": STR,
        "size": INT,
        "file": STR,
    },
    summary=lambda p: f"{p['kind']} report {p['period']} v{p['version']} stored",
)
