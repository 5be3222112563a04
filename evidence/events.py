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

declare(
    "report.integrity_failed",
    subject="report",
    label="Stored report altered",
    fields={
        "kind": STR,
        "period": STR,
        "version": INT,
        "expected_sha256": STR,
        "found_sha256": STR,
    },
    summary=lambda p: (
        f"{p['kind']} report {p['period']} v{p['version']} no longer matches its SHA-256; "
        "the download was refused"
    ),
)
