"""Generate and store one report for one client and period (runs here, not in a request)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from common.periods import parse_period
from reports.models import ReportKind
from reports.services import ReportNotAvailable, check_kind, check_period, generate_report
from tenants.models import Client


class Command(BaseCommand):
    help = (
        "Generate a report (stored as a new immutable version with its SHA-256). "
        f"Kinds: {', '.join(ReportKind.values)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="client slug, e.g. tenant-a")
        parser.add_argument("--kind", required=True, help="|".join(ReportKind.values))
        parser.add_argument("--period", required=True, help="month reported, YYYY-MM")
        parser.add_argument("--out", help="also write the file here")

    def handle(self, *args, **options):
        slug, kind = options["slug"], options["kind"]
        client = Client.objects.exclude(schema_name="public").filter(slug=slug).first()
        if client is None:
            raise CommandError(f"No client with the slug “{slug}”.")
        try:
            check_kind(kind, client)
            period = parse_period(options["period"])
            check_period(client, period)
        except (ReportNotAvailable, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["out"]:
            # Refuse an unwritable --out before anything is generated and stored.
            target = Path(options["out"])
            folder = target.parent if str(target.parent) else Path(".")
            if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
                raise CommandError(f"Cannot write {options['out']}: not a writable file path.")
        with tenant_context(client):
            report = generate_report(
                client=client, kind=kind, period=period, actor="system:command"
            )
            if options["out"]:
                try:
                    with report.file.open("rb") as src, open(options["out"], "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except OSError as exc:
                    raise CommandError(f"Cannot write {options['out']}: {exc.strerror}") from exc
        self.stdout.write(
            f"{client.slug}: {report} stored ({report.size} bytes, sha256 {report.sha256})"
            + (f", written to {options['out']}" if options["out"] else "")
        )
