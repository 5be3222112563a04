"""Report generation: one builder per report kind, one template per builder, one store path.

A builder is ``callable(client, period) -> (template_name, context)``; register it in
``REPORT_BUILDERS`` (or with ``@register(kind)``) and the command, the page, the API and the
monthly schedule all offer that kind. ``generate_report`` renders (outside any transaction), then
stores the file as a new immutable version with its SHA-256 and records ``report.generated``.

The monthly, HIPAA, QBR and exception-register builders live in ``reports/builders.py``.

Adding a report kind:

1. In ``reports/builders.py`` (imported when the app is ready), write::

       @register(ReportKind.MONTHLY)
       def monthly_compliance(client, period):
           context = base_context(client, period, "Monthly compliance report")
           context |= {...figures from the compliance selectors the pages use...}
           return "reports/pdf/monthly.html", context

   Builders run inside the client's schema; ``period_bounds(period, client.tz)`` gives the month.
2. The template extends ``reports/pdf/base.html`` (running header with client and period, page
   X of Y, print CSS) and fills ``{% block content %}``; charts come from ``reports.charts`` as
   SVG strings rendered with ``|safe``.
3. The HIPAA pack includes ``reports/pdf/partials/_ephi_inventory.html`` and
   ``_evidence_chain.html`` with ``ephi_inventory_context()`` and
   ``evidence_chain_context(client, period)`` merged into its context (see
   ``reports/pdf/hipaa_artefacts.html``); ``HIPAA_ONLY_KINDS`` keeps it to HIPAA clients.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from catalogue.freshness import catalogue_freshness
from common.choices import OsFamily
from common.periods import format_period, period_bounds, previous_month
from evidence.selectors import chain_head
from evidence.services import actor_label, record_event, witness_chain_head
from findings.chain import finding_chains, findings_with_evidence
from findings.models import Finding
from inventory.choices import SoftwareCategory
from inventory.models import Asset, InstalledSoftware
from tenants.tiers import plans_with_kind, tier_of

from . import charts
from .branding import branding_context
from .bundle import build_bundle
from .models import ReportKind, StoredReport, report_upload_to
from .pdf import render_pdf

__all__ = [
    "Builder",
    "REPORT_BUILDERS",
    "HIPAA_ONLY_KINDS",
    "ReportNotAvailable",
    "register",
    "check_kind",
    "check_period",
    "available_kinds",
    "client_kinds",
    "monthly_kinds",
    "base_context",
    "ephi_inventory_context",
    "evidence_chain_context",
    "inventory_snapshot",
    "generate_report",
    "generate_missing_reports",
    "store_report",
]

logger = logging.getLogger(__name__)

Builder = Callable[[Any, date], tuple[str, dict[str, Any]]]
REPORT_BUILDERS: dict[str, Builder] = {}
# Kinds produced for HIPAA-regulated clients only.
HIPAA_ONLY_KINDS = frozenset({ReportKind.HIPAA.value})
# The ZIP bundle is assembled from the period's PDFs, so it always comes last.
BUNDLE = ReportKind.BUNDLE.value


class ReportNotAvailable(ValueError):
    """The kind exists in the product but its builder is not installed yet (or it is unknown)."""


def register(kind: str) -> Callable[[Builder], Builder]:
    if kind not in ReportKind.values or kind == BUNDLE:
        raise ValueError(f"unknown report kind {kind!r}")

    def decorator(fn: Builder) -> Builder:
        REPORT_BUILDERS[kind] = fn
        return fn

    return decorator


def available_kinds() -> list[str]:
    """Kinds that can be generated now, in ReportKind order (bundle last)."""
    return [k for k in ReportKind.values if k in REPORT_BUILDERS] + [BUNDLE]


def client_kinds(client: Any) -> list[str]:
    """The kinds ``client`` may have: available now, in its plan (``tenants.tiers``), and the
    HIPAA pack only for a HIPAA-regulated client."""
    tier = tier_of(client)
    return [
        k
        for k in available_kinds()
        if tier.includes(k) and (k not in HIPAA_ONLY_KINDS or getattr(client, "is_hipaa", False))
    ]


def monthly_kinds(client: Any) -> list[str]:
    """What the 1st-of-month schedule produces for ``client`` (its plan's kinds)."""
    return client_kinds(client)


def check_kind(kind: str, client: Any = None) -> None:
    """``kind`` exists and has a builder; with ``client``, also that the client may have it."""
    if kind not in ReportKind.values:
        raise ReportNotAvailable(
            f"Unknown report kind “{kind}”; choose one of: {', '.join(ReportKind.values)}."
        )
    if kind != BUNDLE and kind not in REPORT_BUILDERS:
        label = ReportKind(kind).label
        raise ReportNotAvailable(
            f"The {label} (“{kind}”) is not available yet; "
            f"available now: {', '.join(available_kinds())}."
        )
    if client is not None and kind in HIPAA_ONLY_KINDS and not getattr(client, "is_hipaa", False):
        raise ReportNotAvailable(
            f"The {ReportKind(kind).label} is only produced for HIPAA-regulated clients; "
            f"{client.name} is not marked as HIPAA-regulated."
        )
    if client is not None and not tier_of(client).includes(kind):
        plans = " or ".join(plans_with_kind(kind))
        raise ReportNotAvailable(
            f"The {ReportKind(kind).label} is not part of {client.name}'s "
            f"{tier_of(client).label} plan; it comes with the {plans} plan."
        )


def check_period(client: Any, period: date) -> None:
    """A report covers a month that has started in the client's time zone."""
    local_today = timezone.now().astimezone(client.tz).date()
    if period > local_today.replace(day=1):
        raise ValueError(
            f"{format_period(period)} has not started yet for {client.name} "
            f"({client.timezone}); choose {format_period(local_today)} or earlier."
        )


# --- context shared by every PDF -----------------------------------------------------------------


def base_context(client: Any, period: date, title: str) -> dict[str, Any]:
    start, end = period_bounds(period, client.tz)
    return {
        "client": client,
        "period": period,
        "period_label": format_period(period),
        "period_start": start,
        "period_end_inclusive": (end - timedelta(days=1)),
        "generated_at": timezone.now(),
        "report_title": title,
        "catalogues": [s for s in catalogue_freshness() if not s.is_empty],
        "chain_head": chain_head(),
    }


# --- reusable artefacts (template partials under templates/reports/pdf/partials/) ----------------


def ephi_inventory_context() -> dict[str, Any]:
    """Context of ``_ephi_inventory.html``: every asset flagged as an ePHI system."""
    assets = list(
        Asset.objects.filter(is_ephi=True)
        .select_related("asset_class", "site")
        .order_by("hostname")
        .only(
            "hostname",
            "os_family",
            "os_name",
            "os_version",
            "role",
            "owner",
            "location",
            "data_flows",
            "is_managed",
            "is_stale",
            "last_seen",
            "asset_class__name",
            "site__name",
        )
    )
    by_os = Counter(a.get_os_family_display() for a in assets)
    return {
        "ephi_assets": assets,
        "ephi_count": len(assets),
        "ephi_by_os": sorted(by_os.items()),
        "ephi_chart": charts.bar_chart(sorted(by_os.items()), title="ePHI systems by OS family"),
    }


def evidence_chain_context(client: Any, period: date, *, at: datetime | None = None) -> dict:
    """Context of ``_evidence_chain.html``: each finding with chain evidence in the period
    (``findings.chain.findings_with_evidence``) and its detection → deployment → verification,
    read through the event contract, with every event up to the end of the period (or ``at``).
    """

    start, end = period_bounds(period, client.tz)
    until = min(end, at) if at is not None else end
    ids = sorted(findings_with_evidence(start, until))
    chains = finding_chains(ids, before=until)
    findings = {
        str(f.uuid): f
        for f in Finding.objects.filter(uuid__in=[i for i in ids if _is_uuid(i)]).select_related(
            "asset"
        )
    }
    rows = []
    for fid in ids:
        chain = chains[fid]
        finding = findings.get(fid)
        rows.append(
            {
                "finding_id": fid,
                "finding": finding,
                "asset": finding.asset.hostname if finding else "",
                "patch": finding.patch_identifier if finding else "",
                "tier": finding.get_tier_display() if finding else "",
                "detected": chain.detection,
                "deployed": chain.deployment,
                "failed_attempt": next((a.event for a in chain.attempts if not a.succeeded), None),
                "attempts": len(chain.attempts),
                "failed_attempts": sum(1 for a in chain.attempts if not a.succeeded),
                "verified": chain.verification,
                "complete": chain.complete,
                "events": chain.events,
            }
        )
    rows.sort(key=lambda r: (r["detected"].sequence if r["detected"] else 0, r["finding_id"]))
    head = chain_head()
    return {
        "chain_rows": rows,
        "chain_findings": len(rows),
        "chain_complete": sum(1 for r in rows if r["complete"]),
        "chain_head_hash": head.hash if head else "",
        "chain_head_sequence": head.sequence if head else 0,
    }


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- inventory snapshot --------------------------------------------------------------------


@register(ReportKind.INVENTORY)
def inventory_snapshot(client: Any, period: date) -> tuple[str, dict[str, Any]]:
    """Devices with OS, class, ePHI flag and last seen; software counts by category."""
    context = base_context(client, period, "Inventory snapshot")
    assets = list(
        Asset.objects.select_related("asset_class")
        .order_by("hostname")
        .only(
            "hostname",
            "os_family",
            "os_name",
            "os_version",
            "asset_class__name",
            "is_ephi",
            "is_managed",
            "is_stale",
            "last_seen",
            "role",
        )
    )
    os_counts = Counter(a.os_family for a in assets)
    os_rows = [(label, os_counts.get(value, 0)) for value, label in OsFamily.choices]
    class_rows = sorted(Counter(a.asset_class.name for a in assets).items())
    software = {
        row["category"]: row
        for row in InstalledSoftware.objects.values("category").annotate(
            installs=Count("id"),
            titles=Count("name", distinct=True),
            devices=Count("asset", distinct=True),
        )
    }
    software_rows = [
        {
            "category": label,
            "installs": software.get(value, {}).get("installs", 0),
            "titles": software.get(value, {}).get("titles", 0),
            "devices": software.get(value, {}).get("devices", 0),
        }
        for value, label in SoftwareCategory.choices
    ]
    context.update(
        {
            "assets": assets,
            "device_count": len(assets),
            "managed_count": sum(1 for a in assets if a.is_managed),
            "unknown_count": sum(1 for a in assets if not a.is_managed),
            "ephi_device_count": sum(1 for a in assets if a.is_ephi),
            "stale_count": sum(1 for a in assets if a.is_stale),
            "os_rows": os_rows,
            "class_rows": class_rows,
            "software_rows": software_rows,
            "software_total": sum(r["installs"] for r in software_rows),
            "os_chart": charts.bar_chart(os_rows, title="Devices by OS family"),
            "software_chart": charts.bar_chart(
                [(r["category"], r["installs"]) for r in software_rows if r["installs"]],
                title="Installed software by category",
            ),
        }
    )
    return "reports/pdf/inventory.html", context


# --- generation and storage ----------------------------------------------------------------------


def _file_name(client: Any, kind: str, period: date, version: int, ext: str) -> str:
    return f"{client.slug}-{kind}-{format_period(period)}-v{version}.{ext}"


def store_report(
    *,
    client: Any,
    kind: str,
    period: date,
    content: bytes,
    actor: Any = None,
    extension: str = "pdf",
    content_type: str = "application/pdf",
    on_stored: Callable[[StoredReport], None] | None = None,
) -> StoredReport:
    """Store ``content`` as the next version of (kind, period) and record ``report.generated``;
    ``on_stored`` runs in the same transaction (what it writes exists exactly when the report
    does)."""
    digest = hashlib.sha256(content).hexdigest()
    saved_name = None
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || %s))",
                    [f":report:{kind}:{period:%Y-%m}"],
                )
            current = StoredReport.objects.filter(kind=kind, period=period).aggregate(
                v=Max("version")
            )["v"]
            version = (current or 0) + 1
            report = StoredReport(
                kind=kind,
                period=period,
                version=version,
                content_type=content_type,
                sha256=digest,
                size=len(content),
                generated_at=timezone.now(),
                generated_by=_actor(actor),
            )
            name = report_upload_to(report, _file_name(client, kind, period, version, extension))
            saved_name = default_storage.save(name, ContentFile(content))
            report.file.name = saved_name
            report.full_clean()
            report.save(force_insert=True)
            record_event(
                kind="report.generated",
                subject_type="report",
                subject_id=report.uuid,
                actor=report.generated_by,
                payload={
                    "kind": kind,
                    "period": format_period(period),
                    "version": version,
                    "sha256": digest,
                    "size": len(content),
                    "file": saved_name,
                },
            )
            witness_chain_head(
                source=f"{kind} report {format_period(period)} v{version}", reference=report.uuid
            )
            if on_stored is not None:
                on_stored(report)
    except Exception:
        if saved_name:
            default_storage.delete(saved_name)
        raise
    return report


def file_sha256(handle: Any) -> str:
    """SHA-256 of an open binary file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def record_report_altered(*, report: StoredReport, found_sha256: str, actor: Any = None) -> None:
    """A stored report whose file no longer has its recorded SHA-256 was asked for."""
    record_event(
        kind="report.integrity_failed",
        subject_type="report",
        subject_id=report.uuid,
        actor=_actor(actor),
        payload={
            "kind": report.kind,
            "period": format_period(report.period),
            "version": report.version,
            "expected_sha256": report.sha256,
            "found_sha256": found_sha256,
        },
    )


def _actor(actor: Any) -> str:

    return actor_label(actor) if actor is not None else "system:reports"


def render_report(client: Any, kind: str, period: date) -> bytes:
    """Build and render one report in the client's time zone: every time it prints is the
    client's local time with the zone named."""
    check_kind(kind, client)
    with timezone.override(client.tz):
        template_name, context = REPORT_BUILDERS[kind](client, period)
        return render_pdf(template_name, context | branding_context(client))


def generate_report(
    *,
    client: Any,
    kind: str,
    period: date,
    actor: Any = None,
    on_stored: Callable[[StoredReport], None] | None = None,
) -> StoredReport:
    """Render one report of ``kind`` for ``period`` in the current client schema and store it
    (``on_stored`` as in :func:`store_report`)."""
    check_kind(kind, client)
    check_period(client, period)
    if kind == BUNDLE:
        content = build_bundle(client=client, period=period)
        return store_report(
            client=client,
            kind=kind,
            period=period,
            content=content,
            actor=actor,
            extension="zip",
            content_type="application/zip",
            on_stored=on_stored,
        )
    content = render_report(client, kind, period)
    return store_report(
        client=client, kind=kind, period=period, content=content, actor=actor, on_stored=on_stored
    )


def generate_missing_reports(
    *, client: Any, period: date, kinds: Iterable[str] | None = None, actor: Any = None
) -> list[StoredReport]:
    """Generate each kind that has no stored report for ``period`` yet (idempotent)."""
    made = []
    for kind in list(kinds) if kinds is not None else monthly_kinds(client):
        if StoredReport.objects.filter(kind=kind, period=period).exists():
            continue
        made.append(generate_report(client=client, kind=kind, period=period, actor=actor))
    return made


def due_for_monthly(moment: datetime, clients: Iterable[Any]) -> list[tuple[Any, date]]:
    """Clients whose local date at ``moment`` is the 1st, with the month before as the period,
    when their plan's cadence reports that month (a quarterly plan: the quarter's last month)."""

    due = []
    for client in clients:
        local = moment.astimezone(client.tz)
        if local.day == 1:
            period = previous_month(local)
            if tier_of(client).reports_due_for(period):
                due.append((client, period))
    return due
