"""manage.py ingest <client-slug> <file> [--format …] [--hostname …]"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from inventory.parsers import PARSERS
from inventory.parsers.csv import COLUMN_HELP
from inventory.services.files import FileRejected, ingest_file, read_file
from tenants.models import Client

MAX_FILE_BYTES = 512 * 1024 * 1024
PROGRESS_EVERY = 500


class Command(BaseCommand):
    help = (
        "Ingest an inventory file into one client's inventory. Formats: "
        + "; ".join(f"{spec.name}: {spec.description}" for spec in PARSERS.values())
        + ". Without --format the content decides (an error when it is ambiguous). "
        + "Nmap scans fill the unknown-device queue; every other format upserts assets and "
        + "software. Nothing is written when any part of the file is invalid. "
        + COLUMN_HELP
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Client slug, as in /clients/<slug>/")
        parser.add_argument("file", help="Path of the file to ingest")
        parser.add_argument("--format", choices=sorted(PARSERS), help="Format of the file")
        parser.add_argument(
            "--hostname",
            help=(
                "Host the file belongs to: names a host the file does not name (dpkg lists), "
                "and replaces the host name of a one-host file (a placeholder such as "
                "localhost or a sanitised export); in a file of several hosts it replaces "
                "only missing or placeholder names"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.exclude(schema_name="public").filter(slug=options["slug"]).first()
        if client is None:
            raise CommandError(f"No client with slug {options['slug']!r}.")
        path = Path(options["file"])
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB.")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        try:
            parsed = read_file(
                data,
                name=str(path),
                fmt=options["format"],
                hostname=options.get("hostname"),
                ask_format="give --format",
            )
            parsed.name = path.name
            big = len(parsed.records) > PROGRESS_EVERY
            with tenant_context(client):
                run, summary = ingest_file(
                    parsed,
                    actor=f"ingest {path.name}",
                    progress=self._progress if big else None,
                    ask_hostname="give --hostname",
                )
        except FileRejected as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{client.slug}: {parsed.fmt} {path.name}: {summary} (run {run.uuid})")

    def _progress(self, done: int, total: int) -> None:
        sys.stderr.write(f"ingested {done}/{total} devices\n")
        sys.stderr.flush()
