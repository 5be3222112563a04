"""Report rendering benchmark: the HIPAA evidence artefacts for a 2,000-asset client.

Renders the ePHI asset inventory and the patch evidence chain (the report templates, print CSS,
running header, page counters, inline SVG) and, in the same run, the same rows as a bare HTML
table, both with WeasyPrint. Each render runs in a forked child process so its wall and CPU time
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

    from evidence.models import GENESIS_HASH, EvidenceEvent
    from inventory.choices import AssetRole, AssetSource, OsFamily
    from inventory.models import Asset, AssetClass
    from patchops.choices import FindingOrigin, FindingState, SeverityTier
    from patchops.models import Finding
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
                    subject = ("finding", str(f.uuid)) if step != 1 else ("deployment", f"d-{f.pk}")
                    event = EvidenceEvent(
                        sequence=seq,
                        occurred_at=detected + timedelta(days=step * 1.5, minutes=seq % 600),
                        kind=kind,
                        actor="system:bench",
                        subject_type=subject[0],
                        subject_id=subject[1],
                        payload={"finding_id": str(f.uuid)} if step == 1 else {},
                        prev_hash=prev,
                    )
                    event.hash = event.compute_hash()
                    prev = event.hash
                    events.append(event)
            EvidenceEvent.objects.bulk_create(events, batch_size=1000)
    return client


def _bare_table_html(context: dict[str, Any]) -> str:
    rows = [
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in values) + "</tr>"
        for values in (
            *(
                (a.hostname, a.os_name, a.asset_class.name, a.owner, a.last_seen.date())
                for a in context["ephi_assets"]
            ),
            *(
                (
                    r["asset"],
                    r["patch"],
                    r["detected"].occurred_at if r["detected"] else "",
                    r["deployed"].occurred_at if r["deployed"] else "",
                    r["verified"].occurred_at if r["verified"] else "",
                )
                for r in context["chain_rows"]
            ),
        )
    ]
    return "<html><body><table>" + "".join(rows) + "</table></body></html>"


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


def run(assets: int = 2000, ephi_ratio: float = 0.35, findings: int = 500) -> list[dict[str, Any]]:
    """Seed (once) and render both variants; print and return one result row per variant."""
    _setup_django()
    from django.db import connections
    from django_tenants.utils import tenant_context

    from evidence.pdf import html_to_pdf, render_pdf
    from evidence.reports import base_context, ephi_inventory_context, evidence_chain_context

    client = _seed(assets, ephi_ratio, findings)
    with tenant_context(client):
        started = time.perf_counter()
        context = base_context(client, PERIOD, "HIPAA evidence artefacts")
        context |= ephi_inventory_context() | evidence_chain_context(client, PERIOD)
        query_seconds = time.perf_counter() - started
    connections.close_all()  # children must not share the parent's database socket
    results = [
        _in_child(
            "HIPAA artefacts (templates, print CSS)",
            lambda: render_pdf("evidence/pdf/hipaa_artefacts.html", context),
        ),
        _in_child("bare HTML table", lambda: html_to_pdf(_bare_table_html(context))),
    ]
    print(
        f"report rendering: {assets} assets, {context['ephi_count']} ePHI rows, "
        f"{context['chain_findings']} evidence-chain rows; context queries {query_seconds:.2f}s"
    )
    for row in results:
        print(
            f"  {row['label']:<40} {row['seconds']:>7.2f}s  {row['pages']:>4} pages  "
            f"cpu {row['cpu_seconds']:>7.2f}s  peak RSS {row['max_rss_mb']:>7.1f} MB "
            f"(+{row['rss_growth_mb']} MB)"
        )
    return results


if __name__ == "__main__":
    run()
