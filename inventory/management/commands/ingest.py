"""manage.py ingest <client-slug> <file> [--format …] [--hostname …]"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from inventory.choices import AssetSource, DiscoveryRunSource
from inventory.parsers import PARSERS, ParseError, detect_formats
from inventory.parsers.csv import COLUMN_HELP
from inventory.payload import PayloadError
from inventory.services import run_ingest, run_reconcile
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
        if not data.strip():
            raise CommandError(f"{path} is empty.")
        fmt = options["format"] or self._detect(data, path)
        spec = PARSERS[fmt]
        hostname = (options.get("hostname") or "").strip() or None
        try:
            records = spec.parse(data, hostname=hostname)
        except ImportError as exc:
            raise CommandError(f"The {fmt} format is not available here ({exc}).") from exc
        except (ParseError, ValueError, UnicodeError) as exc:
            looks = [f for f in detect_formats(data) if f != fmt]
            hint = f" The content looks like {' or '.join(looks)}." if looks else ""
            raise CommandError(f"{path} is not a readable {fmt} file: {exc}{hint}") from exc
        if not records and spec.produces != "hosts":
            raise CommandError(f"{path} holds nothing to ingest as {fmt}.")
        # A scan in which no host answered is still a scan: it is recorded as an empty run.
        with tenant_context(client):
            if spec.produces == "hosts":
                run, summary = run_reconcile(
                    hosts=records, source_name=path.name, actor=f"ingest {path.name}"
                )
            else:
                if hostname:
                    _apply_hostname(records, hostname)
                try:
                    run, summary = run_ingest(
                        data=records,
                        source=_SOURCES.get(fmt, AssetSource.OSQUERY),
                        run_source=DiscoveryRunSource.FILE,
                        source_name=path.name,
                        fmt=fmt,
                        actor=f"ingest {path.name}",
                        progress=self._progress if len(records) > PROGRESS_EVERY else None,
                    )
                except PayloadError as exc:
                    lines = [f"  {field}: {'; '.join(msgs)}" for field, msgs in exc.errors.items()]
                    more = f"\n  … and {len(lines) - 10} more" if len(lines) > 10 else ""
                    if any(f.endswith("system_info.hostname") for f in exc.errors):
                        more += "\n  (give --hostname when the file does not name its host)"
                    raise CommandError(
                        f"{path} was not ingested (nothing written):\n"
                        + "\n".join(lines[:10])
                        + more
                    ) from exc
        self.stdout.write(f"{client.slug}: {fmt} {path.name}: {summary} (run {run.uuid})")

    def _detect(self, data: bytes, path: Path) -> str:
        found = detect_formats(data)
        if len(found) == 1:
            return found[0]
        if not found:
            raise CommandError(
                f"Cannot tell the format of {path}; give --format ({', '.join(sorted(PARSERS))})."
            )
        raise CommandError(f"{path} could be {' or '.join(found)}; give --format to choose.")

    def _progress(self, done: int, total: int) -> None:
        sys.stderr.write(f"ingested {done}/{total} devices\n")
        sys.stderr.flush()


PLACEHOLDER_HOSTNAMES = {
    "",
    "localhost",
    "localhost.localdomain",
    "unknown",
    "hostname",
    "host",
    "computer",
    "computername",
    "none",
    "n/a",
    "redacted",
    "xxx",
}


def is_placeholder_hostname(name: str | None) -> bool:
    """Whether a host name in a file stands for no particular host."""
    text = (name or "").strip().lower()
    return text in PLACEHOLDER_HOSTNAMES or bool(re.fullmatch(r"[x*#?_-]+|<.*>|%.*%", text))


def _apply_hostname(records: list[Any], hostname: str) -> None:
    """``--hostname``: the host of a one-host file, or of the placeholder hosts of a larger one.

    A parser's agent id built from the placeholder (``systeminfo:localhost``) follows the new
    name, so two hosts exported as "localhost" never merge."""
    devices = [r for r in records if isinstance(r, dict)]
    for record in devices:
        system = record.setdefault("system_info", {})
        if not isinstance(system, dict):
            continue
        old = system.get("hostname")
        if len(devices) > 1 and not is_placeholder_hostname(old):
            continue
        system["hostname"] = hostname
        agent = record.get("agent_id")
        if isinstance(agent, str) and old and agent.lower().endswith(f":{str(old).lower()}"):
            record["agent_id"] = f"{agent.split(':', 1)[0]}:{hostname.lower()}"


_SOURCES = {
    "osquery": AssetSource.OSQUERY,
    "csv": AssetSource.CSV,
    "systeminfo": AssetSource.SYSTEMINFO,
    "qfe": AssetSource.QFE,
    "dpkg": AssetSource.DPKG,
}
