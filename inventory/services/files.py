"""Inventory files (Nmap XML, CSV inventories, systeminfo, qfe, dpkg, osquery) into the current
client's inventory: one path for the ``ingest`` command and for uploads from the portal or API.

``read_file`` decides the format and parses the whole file before anything is written, raising
``FileRejected`` with the message a person sees; ``ingest_file`` then writes it in one
transaction (a scan fills the unknown-device queue; every other format upserts assets).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inventory.choices import AssetSource, DiscoveryRunSource
from inventory.models import DiscoveryRun
from inventory.parsers import PARSERS, ParseError, detect_formats

from .discovery import run_reconcile
from .ingest import PayloadError, run_ingest

__all__ = [
    "FileRejected",
    "ParsedFile",
    "read_file",
    "ingest_file",
    "is_placeholder_hostname",
    "MAX_PAYLOAD_ERRORS_SHOWN",
]

MAX_PAYLOAD_ERRORS_SHOWN = 10

_SOURCES = {
    "osquery": AssetSource.OSQUERY,
    "csv": AssetSource.CSV,
    "systeminfo": AssetSource.SYSTEMINFO,
    "qfe": AssetSource.QFE,
    "dpkg": AssetSource.DPKG,
}

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


class FileRejected(ValueError):
    """The file cannot be ingested as it is; nothing was written. The message says why."""


@dataclass
class ParsedFile:
    name: str
    fmt: str
    produces: str  # "hosts" (a scan) or "devices"
    records: list[Any]
    hostname: str | None


def is_placeholder_hostname(name: str | None) -> bool:
    """Whether a host name in a file stands for no particular host."""
    text = (name or "").strip().lower()
    return text in PLACEHOLDER_HOSTNAMES or bool(re.fullmatch(r"[x*#?_-]+|<.*>|%.*%", text))


def _detect(data: bytes, name: str, ask: str) -> str:
    found = detect_formats(data)
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileRejected(
            f"Cannot tell the format of {name}; {ask} ({', '.join(sorted(PARSERS))})."
        )
    raise FileRejected(f"{name} could be {' or '.join(found)}; {ask} to choose.")


def read_file(
    data: bytes,
    *,
    name: str,
    fmt: str | None = None,
    hostname: str | None = None,
    ask_format: str = "choose the format",
) -> ParsedFile:
    """Decide the format (``fmt`` or the content) and parse the whole file. ``ask_format`` is
    how the message asks for a format (the command's option, the upload form's field)."""
    if fmt and fmt not in PARSERS:
        raise FileRejected(f"Unknown format {fmt!r}; one of {', '.join(sorted(PARSERS))}.")
    if not data.strip():
        raise FileRejected(f"{name} is empty.")
    fmt = fmt or _detect(data, name, ask_format)
    spec = PARSERS[fmt]
    hostname = (hostname or "").strip() or None
    try:
        records = spec.parse(data, hostname=hostname)
    except (ParseError, ValueError, UnicodeError) as exc:
        looks = [f for f in detect_formats(data) if f != fmt]
        hint = f" The content looks like {' or '.join(looks)}." if looks else ""
        raise FileRejected(f"{name} is not a readable {fmt} file: {exc}{hint}") from exc
    if not records and spec.produces != "hosts":
        raise FileRejected(f"{name} holds nothing to ingest as {fmt}.")
    if hostname and spec.produces != "hosts":
        _apply_hostname(records, hostname)
    return ParsedFile(
        name=name, fmt=fmt, produces=spec.produces, records=records, hostname=hostname
    )


def ingest_file(
    parsed: ParsedFile,
    *,
    actor: Any,
    progress: Callable[[int, int], None] | None = None,
    ask_hostname: str = "give the host name",
) -> tuple[DiscoveryRun, Any]:
    """Write a parsed file into the current client's inventory (call inside its schema).

    A scan in which no host answered is still a scan: it is recorded as an empty run. Raises
    ``FileRejected`` (nothing written) when a device in the file is invalid.
    """
    if parsed.produces == "hosts":
        return run_reconcile(hosts=parsed.records, source_name=parsed.name, actor=actor)
    try:
        return run_ingest(
            data=parsed.records,
            source=_SOURCES.get(parsed.fmt, AssetSource.OSQUERY),
            run_source=DiscoveryRunSource.FILE,
            source_name=parsed.name,
            fmt=parsed.fmt,
            actor=actor,
            progress=progress,
        )
    except PayloadError as exc:
        lines = [f"  {field}: {'; '.join(msgs)}" for field, msgs in exc.errors.items()]
        shown = MAX_PAYLOAD_ERRORS_SHOWN
        more = f"\n  … and {len(lines) - shown} more" if len(lines) > shown else ""
        if any(f.endswith("system_info.hostname") for f in exc.errors):
            more += f"\n  ({ask_hostname} when the file does not name its host)"
        raise FileRejected(
            f"{parsed.name} was not ingested (nothing written):\n" + "\n".join(lines[:shown]) + more
        ) from exc


def _apply_hostname(records: list[Any], hostname: str) -> None:
    """The host of a one-host file, or of the placeholder hosts of a larger one.

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
