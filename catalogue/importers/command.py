"""The shared shape of the ``import_<kind>`` management commands (thin: parse, call, report)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ..services import run_import
from .base import ImportFileError


class ImportCommand(BaseCommand):
    kind: str = ""
    what: str = "file"

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help=f"the {self.what} to import")
        parser.add_argument(
            "--no-progress", action="store_true", help="do not draw the progress counter"
        )

    def handle(self, *args, **options) -> None:

        path = Path(options["path"])
        show = not options["no_progress"]
        stream = self.stderr

        def progress(done: int, total: int) -> None:
            if show and total >= 2000:
                stream.write(f"\r{self.kind}: {done}/{total}", ending="")
                if done >= total:
                    stream.write("")
                sys.stderr.flush()

        try:
            record = run_import(
                kind=self.kind, path=path, progress=progress, force=options.get("force", False)
            )
        except ImportFileError as exc:
            raise CommandError(f"{exc} (nothing was imported)") from exc
        for table, row in record.details.items():
            if table == "notes":
                continue
            self.stdout.write(
                f"{table}: {row['created']} created, {row['updated']} updated, "
                f"{row['unchanged']} unchanged"
            )
        for note in (record.details.get("notes") or {}).get("messages", []):
            self.stdout.write(note)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {path.name}: {record.created} created, {record.updated} updated, "
                f"{record.unchanged} unchanged."
            )
        )
