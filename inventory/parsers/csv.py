"""CSV inventory import → discovery payload dicts.

One row per device, a header row first. Comma or semicolon separated; UTF-8 (with or without
BOM), UTF-16 with BOM, or Windows-1252. Column names are case-insensitive; unknown columns are
ignored; an empty cell leaves what the asset already has unchanged.

=============  ========  =============================================================
column         required  meaning
=============  ========  =============================================================
hostname       yes       device name (matched case-insensitively)
agent_id       no        stable id of the device's agent, matched first
serial         no        hardware serial number, matched second
mac            no        MAC address(es), several separated by ``;`` or spaces
ip             no        IP address(es), several separated by ``;`` or spaces
os_family      no        windows, macos, linux or other
os_name        no        e.g. "Microsoft Windows 11 Pro", "Ubuntu 22.04.4 LTS"
os_version     no        e.g. 10.0.22631, 22.04
os_build       no        e.g. 22631.3447
role           no        server, workstation, shared_kiosk, network or other
asset_class    no        key of an asset class: core_server, workstation, do_not_disrupt, …
owner          no        person or team responsible
location       no        room, rack or free text
site           no        site name (created when new)
ephi           no        ePHI system: yes/no (also true/false, 1/0)
data_flows     no        creates, receives and/or transmits, separated by ``;``
=============  ========  =============================================================
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from .errors import ParseError
from .text import decode_text

__all__ = ["COLUMNS", "COLUMN_HELP", "parse_csv", "looks_like_csv"]

COLUMNS = [
    "hostname",
    "agent_id",
    "serial",
    "mac",
    "ip",
    "os_family",
    "os_name",
    "os_version",
    "os_build",
    "role",
    "asset_class",
    "owner",
    "location",
    "site",
    "ephi",
    "data_flows",
]

COLUMN_HELP = (
    "CSV columns (header row, comma or semicolon separated, hostname required): "
    "hostname, agent_id, serial, mac (several: ';'), ip (several: ';'), "
    "os_family (windows|macos|linux|other), os_name, os_version, os_build, "
    "role (server|workstation|shared_kiosk|network|other), "
    "asset_class (core_server|workstation|do_not_disrupt|<client class key>), owner, location, "
    "site, ephi (ePHI system: yes|no), data_flows (creates;receives;transmits). "
    "Empty cells keep the asset's current value."
)

_PLATFORM = {"windows": "windows", "macos": "darwin", "mac": "darwin", "linux": "linux"}
_ATTRIBUTES = ("role", "asset_class", "owner", "location", "site", "ephi", "data_flows")
_MAX_ROWS = 100_000


def _split(value: str) -> list[str]:
    return [v for v in re.split(r"[;,\s]+", value) if v]


def _reader(text: str) -> csv.DictReader:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text.replace("\x00", ""), newline=""), delimiter=delimiter)
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ParseError(f"The CSV header cannot be read: {exc}.") from exc
    if fieldnames is None:
        raise ParseError("The CSV file is empty.")
    reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames]
    return reader


def parse_csv(data: bytes) -> list[dict[str, Any]]:
    text = decode_text(data)
    reader = _reader(text)
    if "hostname" not in reader.fieldnames:
        raise ParseError(
            "The CSV header has no 'hostname' column (found: "
            f"{', '.join(n for n in reader.fieldnames if n)[:200] or 'nothing'})."
        )
    payloads: list[dict[str, Any]] = []
    try:
        for line, row in enumerate(reader, start=2):
            if len(payloads) >= _MAX_ROWS:
                raise ParseError(f"At most {_MAX_ROWS} rows per file.")
            cells = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
            if not any(cells.values()):
                continue
            if not cells.get("hostname"):
                raise ParseError(f"Line {line}: the hostname is empty.")
            payloads.append(_payload(cells))
    except csv.Error as exc:
        raise ParseError(f"Line {reader.line_num}: {exc}.") from exc
    if not payloads:
        raise ParseError("The CSV file holds no device row.")
    return payloads


def _payload(cells: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {"system_info": {"hostname": cells["hostname"]}}
    if cells.get("agent_id"):
        payload["agent_id"] = cells["agent_id"]
    if cells.get("serial"):
        payload["system_info"]["hardware_serial"] = cells["serial"]
    os_version = {}
    if cells.get("os_family"):
        os_version["platform"] = _PLATFORM.get(cells["os_family"].lower(), cells["os_family"])
    for column, key in (("os_name", "name"), ("os_version", "version"), ("os_build", "build")):
        if cells.get(column):
            os_version[key] = cells[column]
    if os_version:
        payload["os_version"] = os_version
    if cells.get("mac"):
        payload["interface_details"] = [{"mac": m} for m in _split(cells["mac"])]
    if cells.get("ip"):
        payload["interface_addresses"] = [{"address": a} for a in _split(cells["ip"])]
    attributes = {key: cells[key] for key in _ATTRIBUTES if cells.get(key)}
    if attributes:
        payload["patchops"] = attributes
    return payload


def looks_like_csv(data: bytes) -> bool:
    try:
        text = decode_text(data[:65536])
    except ParseError:
        return False
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip().lower()
    if "," not in first and ";" not in first:
        return False
    names = {n.strip().strip('"') for n in re.split(r"[;,]", first)}
    return "hostname" in names and len(names & set(COLUMNS)) >= 2
