"""Inventory file parsers, by format name, and content-based format detection.

Every parser takes the file's bytes and returns a list of dicts: discovery payloads (DESIGN "The
discovery payload") for device formats, or scanned hosts for ``nmap``. Parsers live in their own
modules and are imported only when used; the Windows exports (``systeminfo``, ``wmic qfe``) are
read by the device agent's own parsers (``patchops_agent.parsers``), which the agent also uses.
"""

from __future__ import annotations

import codecs
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ParseError

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
    target: str  # "module:function"
    produces: str  # "payloads" (device payloads) or "hosts" (network scan hosts)
    description: str
    takes_hostname: bool = False

    def load(self) -> Callable[..., list[dict[str, Any]]]:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)

    def parse(self, data: bytes, *, hostname: str | None = None) -> list[dict[str, Any]]:
        parser = self.load()
        if self.takes_hostname:
            return parser(data, hostname=hostname)
        return parser(data)


PARSERS: dict[str, ParserSpec] = {
    spec.name: spec
    for spec in (
        ParserSpec(
            "osquery",
            "inventory.parsers.osquery:parse_osquery",
            "payloads",
            "osquery-shaped JSON: one device object, a list, or one object per line",
        ),
        ParserSpec(
            "csv",
            "inventory.parsers.csv:parse_csv",
            "payloads",
            "CSV with a header row (see inventory.parsers.csv for the columns)",
        ),
        ParserSpec("nmap", "inventory.parsers.nmap:parse_nmap", "hosts", "Nmap XML (-oX)"),
        ParserSpec(
            "systeminfo",
            "patchops_agent.parsers.systeminfo:parse_systeminfo",
            "payloads",
            "Windows systeminfo output (any language, UTF-16 or code page)",
        ),
        ParserSpec(
            "qfe",
            "patchops_agent.parsers.qfe:parse_qfe",
            "payloads",
            "Windows wmic qfe list output",
        ),
        ParserSpec(
            "dpkg",
            "inventory.parsers.dpkg:parse_dpkg",
            "payloads",
            "dpkg-query -W package list of one Linux host (give --hostname)",
            takes_hostname=True,
        ),
    )
}

# Content checks: format name → "module:function" answering ``(data: bytes) -> bool``.
_DETECTORS: dict[str, str] = {
    "osquery": "inventory.parsers.osquery:looks_like_osquery",
    "csv": "inventory.parsers.csv:looks_like_csv",
    "nmap": "inventory.parsers.nmap:looks_like_nmap",
    "systeminfo": "patchops_agent.parsers.systeminfo:looks_like_systeminfo",
    "qfe": "patchops_agent.parsers.qfe:looks_like_qfe",
    "dpkg": "inventory.parsers.dpkg:looks_like_dpkg",
}


def detect_formats(data: bytes) -> list[str]:
    """Every format whose content check accepts ``data`` (detectors not installed are skipped)."""
    found = []
    for name, target in _DETECTORS.items():
        module, _, function = target.partition(":")
        try:
            check = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError):
            continue
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


def decode_text(data: bytes, *, fallback: str = "cp1252") -> str:
    """Text of a file: BOM-marked UTF-8/16/32, else UTF-8, else ``fallback``."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(f"The file is not valid {encoding}: {exc.reason}.") from exc
    if len(data) >= 4 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        try:
            return data.decode("utf-16-le")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(fallback)
    except UnicodeDecodeError as exc:
        raise ParseError(
            "The file's encoding cannot be read (tried UTF-8, UTF-16 and "
            f"{fallback}): {exc.reason}."
        ) from exc
