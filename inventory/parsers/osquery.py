"""osquery-shaped JSON → discovery payload dicts.

Accepts one device object, a list of device objects, or JSON Lines (one object per line, as
osquery's filesystem logger writes). Field validation is the ingest's job
(``inventory.payload.validate_payloads``); this module only reads the JSON.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ParseError
from .text import decode_text

__all__ = ["parse_osquery", "looks_like_osquery"]

_DEVICE_KEYS = {
    "agent_id",
    "system_info",
    "os_version",
    "programs",
    "patches",
    "deb_packages",
    "rpm_packages",
    "apps",
    "homebrew_packages",
    "pending_updates",
}


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        if exc.msg == "Extra data" and len(lines) > 1:
            try:
                return [json.loads(line) for line in lines]
            except json.JSONDecodeError:
                pass
        where = f"line {exc.lineno} column {exc.colno}"
        raise ParseError(f"Not valid JSON: {exc.msg} at {where}.") from exc
    except RecursionError as exc:
        raise ParseError("The JSON is nested too deeply.") from exc


def parse_osquery(data: bytes) -> list[dict[str, Any]]:
    """The device objects in the file (not yet validated)."""
    document = _load(decode_text(data, fallback="utf-8"))
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return document
    raise ParseError("Expected a JSON object or a list of objects.")


def looks_like_osquery(data: bytes) -> bool:
    head = data.lstrip()[:1]
    boms = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
    if head not in (b"{", b"[") and not data.startswith(boms):
        return False
    try:
        document = parse_osquery(data)
    except ParseError:
        return False
    first = document[0] if document else None
    return isinstance(first, dict) and bool(_DEVICE_KEYS & set(first))
