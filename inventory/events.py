"""Event kinds the inventory records (see ``evidence.contract``)."""

from __future__ import annotations

from evidence.contract import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    OBJECT,
    STR,
    UUID,
    declare,
    list_of,
    nullable,
    optional,
    record,
)

_ASSET_REF = record({"id": UUID, "hostname": STR})
_TAGS = record({"is_ephi": BOOL, "data_flows": list_of(STR)})
# A finding a person's change of ePHI, class or role re-scored (``findings.rescore``): its risk
# score before and after, and its due date before and after with why (or why it was kept).
_RESCORED = list_of(
    record(
        {
            "id": UUID,
            "patch": STR,
            "risk_score": optional(record({"before": DECIMAL, "after": DECIMAL})),
            "due_at": optional(record({"before": DATETIME, "after": DATETIME, "why": STR})),
            "due_at_kept": optional(STR),
        }
    )
)

declare(
    "asset.discovered",
    subject="discovery_run",
    label="Assets discovered",
    fields={"source": STR, "assets": list_of(_ASSET_REF)},
    summary=lambda p: f"{len(p['assets'])} new asset(s) from {p['source']}",
)
declare(
    "software.changed",
    subject="discovery_run",
    label="Software changed",
    fields={
        "source": STR,
        "totals": record({"installed": INT, "removed": INT, "upgraded": INT}),
        "assets": list_of(
            record(
                {
                    "id": UUID,
                    "hostname": STR,
                    "installed": INT,
                    "removed": INT,
                    "upgraded": INT,
                    "examples": list_of(STR),
                }
            )
        ),
    },
)
declare(
    "asset.attributes_changed",
    subject="discovery_run",
    label="Asset attributes changed",
    fields={
        # An import's source (csv, osquery…), or "portal" / "api" for a person's edit (then the
        # subject id is that source too, and the event names one asset).
        "source": STR,
        # changes: attribute → {"before": …, "after": …} (ePHI, data flows, class, role, owner,
        # site, location), as the imported file or the person set them; findings: what a
        # person's change re-scored.
        "assets": list_of(
            record(
                {"id": UUID, "hostname": STR, "changes": OBJECT, "findings": optional(_RESCORED)}
            )
        ),
    },
    summary=lambda p: f"{len(p['assets'])} asset(s) re-attributed by {p['source']}",
)
declare(
    "asset.stale",
    subject="inventory",
    label="Assets turned stale",
    fields={"count": INT, "stale_after_days": INT, "hostnames": list_of(STR)},
)
declare(
    "asset.tagged",
    subject="asset",
    label="Asset tagged",
    fields={
        "hostname": STR,
        "before": _TAGS,
        "after": _TAGS,
        "findings": optional(_RESCORED),  # re-scored when the ePHI flag changed
    },
)
declare(
    "unknown_device.found",
    subject="unknown_device",
    label="Unknown device found",
    fields={"ip": nullable(STR), "mac": STR, "source": STR},
)
declare(
    "unknown_device.adopted",
    subject="unknown_device",
    label="Unknown device adopted",
    fields={"asset": UUID, "hostname": STR, "role": STR},
)
declare(
    "unknown_device.dismissed",
    subject="unknown_device",
    label="Unknown device dismissed",
    fields={"reason": STR},
)
declare(
    "discovery.schedule_changed",
    subject="discovery_schedule",
    label="Discovery schedule changed",
    fields={"before": OBJECT, "after": OBJECT},
)
declare(
    "inventory.snapshot_created",
    subject="inventory_snapshot",
    label="Inventory snapshot taken",
    fields={
        "taken_on": DATE,
        "csv_sha256": STR,
        "json_sha256": STR,
        "assets": INT,
        "software": INT,
    },
)
for _kind, _label in (
    ("software_policy.created", "Software list row added"),
    ("software_policy.changed", "Software list row changed"),
):
    declare(
        _kind,
        subject="software_policy",
        label=_label,
        fields={"name_pattern": STR, "is_supported": BOOL, "changed": list_of(STR)},
    )
declare(
    "software_policy.reviewed",
    subject="software_policy",
    label="Software list reviewed",
    fields={"reviewed_on": DATE, "notes": STR},
)
