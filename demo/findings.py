"""Demo data of the patch core: findings for the demo assets from their pending updates, with a
realistic spread (some verified last month, some overdue, some due soon), and scorecard rows.

Runs inside the client's schema after the inventory demo created its assets. Findings go through
the same services as production: they are opened by ``sync_findings_for_asset`` at a detection
time in the past, and the ones shown as fixed are verified by ``verify_findings_for_asset`` after
the fix appears in the installed software (as a later inventory would show). CVSS, EPSS and KEV
signals come from the catalogue: ``seed_catalogue`` imports the small documents in
``demo/catalogue/`` through the catalogue's own importers first, so the demo's tiers,
KEV marks and risk scores are computed as production computes them.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import schema_context

from catalogue.choices import ImportStatus
from catalogue.importers.base import sha256_of
from catalogue.models import CatalogueImport
from catalogue.services import run_import
from findings.pipeline import refresh_findings
from findings.services import findings_from_pending_updates, sync_findings_for_asset
from findings.verification import KB_RE, verify_findings_for_asset
from inventory.choices import SoftwareKind
from inventory.models import Asset, InstalledSoftware, PendingUpdate
from scorecards.services import record_scorecard
from tenants.models import Client

TREND_DAYS = 30
DEMO_CATALOGUE = Path(__file__).resolve().parent / "catalogue"
DEMO_DOCUMENTS = (("kev", "kev.json"), ("nvd", "nvd.json"), ("epss", "epss.csv"))


def seed_catalogue() -> int:
    """Import the demo catalogue documents (public schema) through ``run_import``; a document
    already imported unchanged is skipped. Returns how many were imported."""
    imported = 0
    with schema_context("public"):
        for kind, name in DEMO_DOCUMENTS:
            path = DEMO_CATALOGUE / name
            done = CatalogueImport.objects.filter(
                kind=kind, sha256=sha256_of(path), status=ImportStatus.SUCCEEDED
            )
            if not done.exists():
                run_import(kind=kind, path=path)
                imported += 1
    return imported


_KIND_BY_SOURCE = {"apt": SoftwareKind.DEB, "dnf": SoftwareKind.RPM}


def seed_client(client: Client) -> None:
    seed_catalogue()
    rng = random.Random(f"patchops-demo-{client.slug}")
    now = timezone.now()
    assets = Asset.objects.filter(is_managed=True).select_related("asset_class").order_by("pk")
    for asset in assets:
        for patch in findings_from_pending_updates(asset):
            roll = rng.random()
            if roll < 0.3:
                # found five to seven weeks ago, fixed (and verified) last month
                detected = now - timedelta(days=rng.randint(35, 50), hours=rng.randint(0, 23))
                sync_findings_for_asset(asset=asset, matches=[patch], at=detected)
                _install_fix(asset, patch, at=detected)
                verify_findings_for_asset(
                    asset, detected + timedelta(hours=rng.choice([6, 20, 30, 70, 200]))
                )
            elif roll < 0.6:
                # found weeks ago and still missing: overdue for most tiers
                detected = now - timedelta(days=rng.randint(8, 40), hours=rng.randint(0, 23))
                sync_findings_for_asset(asset=asset, matches=[patch], at=detected)
            else:
                # found in the last few days: inside its window, some due soon
                detected = now - timedelta(hours=rng.randint(2, 24 * 6))
                sync_findings_for_asset(asset=asset, matches=[patch], at=detected)
    # Advisory matches where the catalogue has data (none in a fresh demo: nothing happens).
    refresh_findings(asset_ids=[a.pk for a in assets], at=now)
    # Scorecard rows: the engine recomputes any past instant, so the trend is real history.
    for days_ago in range(TREND_DAYS - 1, -1, -1):
        record_scorecard(client=client, at=now - timedelta(days=days_ago))


def _install_fix(asset: Asset, patch, *, at) -> None:
    """What a later inventory shows: the KB (or the fixed package) installed, not pending."""
    if KB_RE.match(patch.patch_identifier):
        InstalledSoftware.objects.update_or_create(
            asset=asset,
            kind=SoftwareKind.HOTFIX,
            name=patch.patch_identifier,
            arch="",
            defaults={"version": "", "first_seen": at, "last_seen": at},
        )
    elif patch.package_name and patch.fixed_version:
        pending = PendingUpdate.objects.filter(asset=asset, name=patch.package_name).first()
        kind = _KIND_BY_SOURCE.get(pending.source if pending else "", SoftwareKind.PROGRAM)
        updated = InstalledSoftware.objects.filter(asset=asset, name=patch.package_name).exclude(
            kind=SoftwareKind.HOTFIX
        )
        if not updated.update(version=patch.fixed_version, last_seen=at):
            InstalledSoftware.objects.create(
                asset=asset,
                kind=kind,
                name=patch.package_name,
                version=patch.fixed_version,
                first_seen=at,
                last_seen=at,
            )
    PendingUpdate.objects.filter(asset=asset, name=patch.package_name).delete()
