"""Inventory file parsers, by format name, and content-based format detection.

Every parser takes the file's bytes and returns a list of dicts: discovery payloads (DESIGN "The
discovery payload") for device formats, or scanned hosts for ``nmap``. Parsers live in their own
modules; the Windows exports (``systeminfo``, ``wmic qfe``) are
read by the device agent's own parsers (``patchops_agent.parsers``), which the agent also uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from patchops_agent.parsers.qfe import looks_like_qfe, parse_qfe
from patchops_agent.parsers.systeminfo import looks_like_systeminfo, parse_systeminfo

from .csv import looks_like_csv, parse_csv
from .dpkg import looks_like_dpkg, parse_dpkg
from .errors import ParseError
from .nmap import looks_like_nmap, parse_nmap
from .osquery import looks_like_osquery, parse_osquery
from .text import decode_text

__all__ = [
    "ParseError",
    "ParserSpec",
    "PARSERS",
    "detect_format",
    "detect_formats",
    "decode_text",
]


@dataclass(frozen=True)
class ParserSpec:
    name: str
    parser: Callable[..., list[dict[str, Any]]]
    produces: str  # "payloads" (device payloads) or "hosts" (network scan hosts)
    description: str
    takes_hostname: bool = False

    def parse(self, data: bytes, *, hostname: str | None = None) -> list[dict[str, Any]]:
        if self.takes_hostname:
            return self.parser(data, hostname=hostname)
        return self.parser(data)


PARSERS: dict[str, ParserSpec] = {
    spec.name: spec
    for spec in (
        ParserSpec(
            "osquery",
            parse_osquery,
            "payloads",
            "osquery-shaped JSON: one device object, a list, or one object per line",
        ),
        ParserSpec(
            "csv",
            parse_csv,
            "payloads",
            "CSV with a header row (see inventory.parsers.csv for the columns)",
        ),
        ParserSpec("nmap", parse_nmap, "hosts", "Nmap XML (-oX)"),
        ParserSpec(
            "systeminfo",
            parse_systeminfo,
            "payloads",
            "Windows systeminfo output (any language, UTF-16 or code page)",
        ),
        ParserSpec(
            "qfe",
            parse_qfe,
            "payloads",
            "Windows wmic qfe list output",
        ),
        ParserSpec(
            "dpkg",
            parse_dpkg,
            "payloads",
            "dpkg-query -W package list of one Linux host (give --hostname)",
            takes_hostname=True,
        ),
    )
}

# Content checks: format name → ``(data: bytes) -> bool``.
_DETECTORS: dict[str, Callable[[bytes], bool]] = {
    "osquery": looks_like_osquery,
    "csv": looks_like_csv,
    "nmap": looks_like_nmap,
    "systeminfo": looks_like_systeminfo,
    "qfe": looks_like_qfe,
    "dpkg": looks_like_dpkg,
}


def detect_formats(data: bytes) -> list[str]:
    """Every format whose content check accepts ``data``."""
    found = []
    for name, check in _DETECTORS.items():
        try:
            if check(data):
                found.append(name)
        except Exception:  # noqa: BLE001, S112 - a detector that chokes simply does not claim it
            continue
    return found


def detect_format(data: bytes) -> str | None:
    """The one format ``data`` is in, or None when it is unknown or ambiguous."""
    found = detect_formats(data)
    return found[0] if len(found) == 1 else None
