"""Write side of the inventory, one module per concern:

* ``ingest``: discovery payloads into assets, set-based (a fixed number of queries per chunk of
  ``CHUNK_SIZE`` devices, whatever the number of software rows); everything a call writes
  happens in one transaction, after the whole input was validated: a bad payload writes nothing;
* ``software``: the software and pending-update tables of ingested devices (``COPY`` into a
  temporary table, one ``INSERT … ON CONFLICT``) and their change history;
* ``discovery``: network scans reconciled with the inventory, the unknown-device queue, the
  discovery schedule and stale assets;
* ``assets``: business attributes and tags (re-scoring findings through ``inventory.hooks``),
  monthly snapshots and supported-software reviews.

Callers import from ``inventory.services``.
"""

from .assets import (
    EDITABLE_ATTRIBUTES,
    clean_attributes,
    create_snapshot,
    record_policy_review,
    tag_assets,
    update_asset_attributes,
)
from .discovery import (
    ReconcileSummary,
    adopt_unknown_device,
    dismiss_unknown_device,
    mark_stale_assets,
    reconcile_scan,
    run_reconcile,
    run_scheduled_discovery,
    update_discovery_schedule,
)
from .ingest import CHUNK_SIZE, IngestSummary, PayloadError, ingest_payloads, run_ingest
from .software import upsert_software_rows

__all__ = [
    "CHUNK_SIZE",
    "IngestSummary",
    "PayloadError",
    "ingest_payloads",
    "run_ingest",
    "upsert_software_rows",
    "ReconcileSummary",
    "reconcile_scan",
    "run_reconcile",
    "adopt_unknown_device",
    "dismiss_unknown_device",
    "mark_stale_assets",
    "update_discovery_schedule",
    "run_scheduled_discovery",
    "tag_assets",
    "EDITABLE_ATTRIBUTES",
    "clean_attributes",
    "update_asset_attributes",
    "create_snapshot",
    "record_policy_review",
]
