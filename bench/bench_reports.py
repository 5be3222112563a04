"""Report rendering benchmark: the full HIPAA evidence pack for a 2,000-asset client.

Builds the pack through its registered builder (cover with the verified chain head, ePHI asset
inventory, risk-based prioritization log, patch evidence chain, compensating controls register:
the report templates, print CSS, running header, page counters, inline SVG) and renders it and,
in the same run, the same rows as bare HTML tables, both with WeasyPrint: every row of every
table in the pack, each cell's text as the pack prints it, in the pack's table font (DejaVu Sans
8pt) with no other style. Each render runs in a forked child process so its wall and CPU time
and its peak resident set (getrusage maxrss; growth over the fork point in brackets) are measured
in isolation.

Needs a migrated database (``manage.py bootstrap``); creates the client ``bench-reports`` once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import resource
import time
from datetime import UTC, date, datetime, timedelta
from html import escape
from html.parser import HTMLParser
from typing import Any

SLUG = "bench-reports"
PERIOD = date(2026, 10, 1)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")
    import django

    django.setup()


def _seed(assets: int, ephi_ratio: float, findings: int) -> Any:
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from common.choices import OsFamily
    from evidence.models import GENESIS_HASH, EvidenceEvent
    from findings.choices import FindingOrigin, FindingState, SeverityTier
    from findings.models import Finding
    from inventory.choices import AssetRole, AssetSource
    from inventory.models import Asset, AssetClass, PatchReport
    from tenants.models import Client
    from tenants.services import create_client

    client = Client.objects.filter(slug=SLUG).first() or create_client(
        slug=SLUG, name="Benchmark Health Partners", timezone_name="America/Chicago", is_hipaa=True
    )
    rng = random.Random(7)
    with tenant_context(client):
        if Asset.objects.count() >= assets:
            return client
        classes = list(AssetClass.objects.all())
        families = [
            (OsFamily.WINDOWS, "Microsoft Windows 11 Pro", "10.0.22631"),
            (OsFamily.WINDOWS, "Microsoft Windows Server 2022", "10.0.20348"),
            (OsFamily.LINUX, "Ubuntu", "22.04"),
            (OsFamily.MACOS, "macOS", "14.6"),
        ]
        seen = datetime(2026, 10, 30, 12, tzinfo=UTC)
        with transaction.atomic():
            rows = []
            for i in range(assets):
                family, name, version = families[i % len(families)]
                rows.append(
                    Asset(
                        hostname=f"bhp-{i:05d}",
                        agent_id=f"bench-{i:05d}",
                        os_family=family,
                        os_name=name,
                        os_version=version,
                        role=AssetRole.SERVER if i % 10 == 0 else AssetRole.WORKSTATION,
                        asset_class=classes[i % len(classes)],
                        owner=f"Dept {i % 17}",
                        location=f"Floor {i % 6}",
                        is_ephi=rng.random() < ephi_ratio,
                        data_flows=["receives", "transmits"],
                        source=AssetSource.AGENT,
                        first_seen=seen - timedelta(days=200),
                        last_seen=seen - timedelta(hours=i % 72),
                    )
                )
            created = Asset.objects.bulk_create(rows, batch_size=1000)
            PatchReport.objects.bulk_create(
                [PatchReport(asset=a, reported_at=a.last_seen) for a in created], batch_size=1000
            )
            detected = datetime(2026, 10, 3, 9, tzinfo=UTC)
            finding_rows = [
                Finding(
                    asset=created[i * (assets // findings)],
                    patch_identifier=f"KB50{i:05d}",
                    tier=SeverityTier.HIGH,
                    origin=FindingOrigin.PENDING_UPDATE,
                    state=FindingState.VERIFIED,
                    detected_at=detected,
                    due_at=detected + timedelta(days=14),
                    deployed_at=detected + timedelta(days=2),
                    verified_at=detected + timedelta(days=3),
                )
                for i in range(findings)
            ]
            made = Finding.objects.bulk_create(finding_rows, batch_size=1000)
            last = EvidenceEvent.objects.order_by("-sequence").first()
            prev, seq = (last.hash, last.sequence) if last else (GENESIS_HASH, 0)
            events = []
            for step, kind in enumerate(
                ("finding.detected", "deployment.succeeded", "finding.verified")
            ):
                for f in made:
                    seq += 1
                    # The shapes the producers write (evidence.contract): detection and
                    # verification name the finding as subject, a deployment names it in
                    # its payload.
                    subject = (
                        ("finding", str(f.uuid)) if step != 1 else ("asset", str(f.asset.uuid))
                    )
                    event = EvidenceEvent(
                        sequence=seq,
                        occurred_at=detected + timedelta(days=step * 1.5, minutes=seq % 600),
                        kind=kind,
                        actor="system:bench",
                        subject_type=subject[0],
                        subject_id=subject[1],
                        payload={"findings": [str(f.uuid)]} if step == 1 else {},
                        prev_hash=prev,
                    )
                    event.hash = event.compute_hash()
                    prev = event.hash
                    events.append(event)
            EvidenceEvent.objects.bulk_create(events, batch_size=1000)
    return client


def _seed_pack_extras(client: Any, open_findings: int, exceptions: int) -> None:
    """Open findings for the prioritization log and signed exceptions with controls for the
    controls register (once; rows written directly, with the times of the benchmark month)."""
    import hashlib as _hashlib

    from django.db import transaction
    from django_tenants.utils import tenant_context

    from exceptions_register.choices import (
        ControlKind,
        ExceptionKind,
        ExceptionState,
        SignatureMethod,
    )
    from exceptions_register.models import CompensatingControl, RiskException, Signature
    from findings.choices import FindingOrigin, FindingState, SeverityTier
    from findings.models import Finding
    from inventory.models import Asset
    from tenants.models import User

    owner = User.objects.filter(email="owner@bench-reports.test").first()
    if owner is None:
        owner = User.objects.create_user(email="owner@bench-reports.test", password=None)
    rng = random.Random(11)
    tiers = [SeverityTier.CRITICAL, SeverityTier.HIGH, SeverityTier.MEDIUM, SeverityTier.LOW]
    with tenant_context(client), transaction.atomic():
        if Finding.objects.filter(state=FindingState.OPEN).exists():
            return
        assets = list(Asset.objects.order_by("pk"))
        detected = datetime(2026, 10, 8, 9, tzinfo=UTC)
        Finding.objects.bulk_create(
            [
                Finding(
                    asset=assets[(i * 7 + 3) % len(assets)],
                    patch_identifier=f"KB51{i:05d}",
                    tier=tiers[i % 4],
                    risk_score=round(rng.uniform(5, 95), 2),
                    origin=FindingOrigin.PENDING_UPDATE,
                    state=FindingState.OPEN,
                    detected_at=detected + timedelta(hours=i % 300),
                    due_at=detected + timedelta(days=(1, 7, 14, 30)[i % 4], hours=i % 300),
                )
                for i in range(open_findings)
            ],
            batch_size=1000,
        )
        starts = datetime(2026, 9, 20, 15, tzinfo=UTC)
        made = RiskException.objects.bulk_create(
            [
                RiskException(
                    kind=ExceptionKind.DEFERRAL,
                    state=ExceptionState.PENDING_SIGNOFF,
                    reason=f"Line-of-business application {i} certifies updates quarterly.",
                    ticket_reference=f"PSA-{9000 + i}",
                    requested_by_label="engineer@msp.example",
                    approver=owner,
                    created_at=starts + timedelta(days=i) - timedelta(hours=4),
                    submitted_at=starts + timedelta(days=i) - timedelta(hours=3),
                    starts_at=starts + timedelta(days=i),
                    expires_at=starts + timedelta(days=i + 60),
                )
                for i in range(exceptions)
            ]
        )
        through = RiskException.assets.through
        through.objects.bulk_create(
            [
                through(riskexception_id=e.pk, asset_id=assets[i * 13 % len(assets)].pk)
                for i, e in enumerate(made)
            ]
        )
        CompensatingControl.objects.bulk_create(
            [
                CompensatingControl(exception=e, kind=kind, description=text)
                for e in made
                for kind, text in (
                    (ControlKind.NETWORK_SEGMENTATION, "Isolated VLAN, no inbound internet."),
                    (ControlKind.EXTRA_MONITORING, "EDR alerts reviewed daily by the SOC."),
                )
            ]
        )
        signatures = []
        for e in made:
            text = e.canonical_text()
            signatures.append(
                Signature(
                    exception=e,
                    user=owner,
                    user_email=owner.email,
                    decision="signed",
                    method=SignatureMethod.TOTP,
                    signed_at=e.starts_at,
                    signed_text=text,
                    text_sha256=_hashlib.sha256(text.encode("utf-8")).hexdigest(),
                )
            )
        Signature.objects.bulk_create(signatures)
        RiskException.objects.filter(pk__in=[e.pk for e in made]).update(
            state=ExceptionState.ACTIVE
        )


class _TableRows(HTMLParser):
    """Every ``<table>`` of a page as its rows, each row the text of its cells (``<br>`` read as a
    space, whitespace collapsed as the PDF shows it), in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _bare_table_html(pack_html: str) -> str:
    """The baseline: the pack's own table rows — every row of every table, each cell's text as
    the pack prints it — as plain HTML tables in the font and size of the pack's tables (DejaVu
    Sans 8pt), without the pack's stylesheet: no header repeated on each page, no borders,
    padding or backgrounds, no headings, prose, chart or margin boxes."""
    parser = _TableRows()
    parser.feed(pack_html)
    parser.close()
    tables = [
        "<table>"
        + "".join(
            "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
        )
        + "</table>"
        for rows in parser.tables
    ]
    return (
        '<html><head><style>body { font: 8pt "DejaVu Sans"; }</style></head><body>'
        + "".join(tables)
        + "</body></html>"
    )


def _measure(label: str, render, queue) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    cpu_started = time.process_time()
    pdf = render()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import io

    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    queue.put(
        {
            "label": label,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu_seconds, 2),
            "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
            "max_rss_mb": round(rss_after / 1024, 1),
            "pages": pages,
            "bytes": len(pdf),
            "sha256": hashlib.sha256(pdf).hexdigest()[:16],
        }
    )


def _in_child(label: str, render) -> dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=_measure, args=(label, render, queue))
    process.start()
    result = queue.get(timeout=1800)
    process.join()
    return result


def run(
    scale: float = 1.0,
    assets: int = 2000,
    ephi_ratio: float = 0.35,
    findings: int = 500,
    open_findings: int = 1500,
    exceptions: int = 20,
) -> Any:
    """Seed (once) and render both variants at ``assets × scale`` assets (at least 50) and
    ``findings × scale`` evidence-chain findings (at least 10); print them and answer the
    figures with the pack's time, CPU and memory against the bare table's (targets: wall time
    ≤ 1.3× the bare table's, peak resident set under 1 GB)."""
    _setup_django()
    from bench.record import Ratio, Result

    assets, findings = max(50, round(assets * scale)), max(10, round(findings * scale))
    from django.db import connections
    from django.template.loader import render_to_string
    from django_tenants.utils import tenant_context

    from reports.models import ReportKind
    from reports.pdf import html_to_pdf, render_pdf
    from reports.services import REPORT_BUILDERS

    client = _seed(assets, ephi_ratio, findings)
    _seed_pack_extras(
        client, max(10, round(open_findings * assets / 2000)), max(2, round(exceptions))
    )
    with tenant_context(client):
        started = time.perf_counter()
        template, context = REPORT_BUILDERS[ReportKind.HIPAA](client, PERIOD)
        query_seconds = time.perf_counter() - started
        # The baseline's rows are read from the pack's own HTML, outside the measured renders.
        bare_html = _bare_table_html(render_to_string(template, context))
    connections.close_all()  # children must not share the parent's database socket
    results = [
        _in_child(
            "HIPAA pack (builder, templates, print CSS)", lambda: render_pdf(template, context)
        ),
        _in_child("bare HTML table", lambda: html_to_pdf(bare_html)),
    ]
    print(
        f"report rendering: {assets} assets, {context['ephi_count']} ePHI rows, "
        f"{context['priority_shown']} of {context['priority_total']} prioritization rows, "
        f"{context['chain_findings']} evidence-chain rows, {context['controls_count']} "
        f"exceptions; builder queries {query_seconds:.2f}s"
    )
    for row in results:
        print(
            f"  {row['label']:<44} {row['seconds']:>7.2f}s  {row['pages']:>4} pages  "
            f"cpu {row['cpu_seconds']:>7.2f}s  peak RSS {row['max_rss_mb']:>7.1f} MB "
            f"(+{row['rss_growth_mb']} MB)"
        )
    pack, bare = results
    return Result(
        figures={
            "assets": assets,
            "ePHI rows": context["ephi_count"],
            "evidence-chain rows": context["chain_findings"],
            "builder queries (s)": round(query_seconds, 3),
            "HIPAA pack peak RSS (MB)": pack["max_rss_mb"],
            **{f"{row['label']}": row for row in results},
        },
        ratios=[
            Ratio(
                "HIPAA pack vs bare table, wall time",
                pack["seconds"],
                bare["seconds"],
                target="<= 1.3",
            ),
            Ratio("HIPAA pack vs bare table, CPU", pack["cpu_seconds"], bare["cpu_seconds"]),
            Ratio(
                "HIPAA pack vs bare table, peak RSS", pack["max_rss_mb"], bare["max_rss_mb"], "MB"
            ),
            # The render's peak resident set (getrusage maxrss of its process) stays under 1 GB.
            Ratio("HIPAA pack peak RSS vs 1 GB", pack["max_rss_mb"], 1024.0, "MB", target="<= 1"),
        ],
    )


if __name__ == "__main__":
    run()
