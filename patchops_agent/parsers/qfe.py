"""Windows ``wmic qfe`` and PowerShell ``Get-HotFix`` exports (table, ``/format:list``,
``/format:csv``, ``Format-List``), as found on real machines, in any language or encoding that
``systeminfo.decode_text`` reads. Each host named in the output becomes one discovery payload
with its ``patches``."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from patchops_agent.parsers.errors import ParseError
from patchops_agent.parsers.systeminfo import (
    _KB_RE,
    _SNIFF_BYTES,
    _agent_id,
    _hotfix_id,
    _lines,
    decode_text,
)

__all__ = ["looks_like_qfe", "parse_qfe"]

_QFE_COLUMNS = {
    "caption",
    "csname",
    "description",
    "fixcomments",
    "hotfixid",
    "installdate",
    "installedby",
    "installedon",
    "name",
    "servicepackineffect",
    "status",
    "source",
    "node",
    "pscomputername",
}


_HOST_COLUMNS = ("csname", "source", "pscomputername", "node")


_US_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})\b")


_ISO_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})\b")


_DOTTED_DATE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})\b")


_FILETIME_RE = re.compile(r"^[0-9a-fA-F]{16}$")


_KB_TOKEN_RE = re.compile(r"^KB\d{4,8}(-v\d+)?$", re.IGNORECASE)


def looks_like_qfe(data: bytes) -> bool:
    """True when the bytes read as ``wmic qfe`` / ``Get-HotFix`` output with a HotFixID column."""
    try:
        text = decode_text(data[:_SNIFF_BYTES])
    except (ParseError, TypeError):
        return False
    for line in _lines(text)[:50]:
        folded = line.casefold()
        if "hotfixid" in folded and ("description" in folded or "installedon" in folded):
            return True
    return False


def parse_qfe(data: bytes, hostname: str | None = None) -> list[dict[str, Any]]:
    """Parse ``wmic qfe`` (table, list or CSV) or ``Get-HotFix`` output.

    Returns one payload per host named in the output (``CSName`` / ``Source`` column); rows with
    no host name go to ``hostname`` when given, else to a payload whose host is unknown
    (``agent_id`` and ``system_info.hostname`` null) for the caller to attach.
    """
    text = decode_text(data)
    lines = _lines(text)
    rows = _qfe_rows(lines)
    if rows is None:
        raise ParseError(
            "not wmic qfe output: expected a header line with a HotFixID column "
            "(wmic qfe, wmic qfe list, wmic qfe get /format:csv or Get-HotFix)"
        )
    by_host: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        match = _KB_RE.search(row.get("hotfixid") or "")
        if not match:
            continue
        host = next((row[c] for c in _HOST_COLUMNS if row.get(c)), None) or hostname
        patches = by_host.setdefault(host, [])
        hotfix_id = _hotfix_id(match)
        if any(p["hotfix_id"] == hotfix_id for p in patches):
            continue
        patches.append(
            {
                "hotfix_id": hotfix_id,
                "description": row.get("description") or None,
                "installed_on": _qfe_date(row.get("installedon") or ""),
                "installed_by": row.get("installedby") or None,
            }
        )
    if not by_host:
        raise ParseError("wmic qfe output lists no hotfix (no KB number in the HotFixID column)")
    return [
        {
            "agent_id": _agent_id(host),
            "source": "qfe",
            "system_info": {"hostname": host, "computer_name": host},
            "os_version": {"platform": "windows"},
            "patches": patches,
        }
        for host, patches in by_host.items()
    ]


def _qfe_rows(lines: list[str]) -> list[dict[str, str]] | None:
    for index, line in enumerate(lines[:200]):
        folded = line.casefold()
        if "hotfixid" not in folded:
            continue
        stripped = line.strip()
        if "," in stripped and re.search(r"(^|,)\s*hotfixid\s*(,|$)", folded):
            return _qfe_csv(lines[index:])
        if re.match(r"^\s*hotfixid\s*[:=]", folded):
            return _qfe_list(lines)
        names = [m.group().casefold() for m in re.finditer(r"\S+", line)]
        if "hotfixid" in names and all(name in _QFE_COLUMNS for name in names):
            return _qfe_table(line, lines[index + 1 :])
    return None


def _qfe_csv(lines: list[str]) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO("\n".join(line for line in lines if line.strip())))
    rows = list(reader)
    header = [name.strip().casefold() for name in rows[0]]
    return [
        {name: value.strip() for name, value in zip(header, row)}
        for row in rows[1:]
        if row != rows[0]
    ]


def _qfe_list(lines: list[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z]+)\s*[:=]\s?(.*)$", line)
        if not match or match.group(1).casefold() not in _QFE_COLUMNS:
            continue
        key, value = match.group(1).casefold(), match.group(2).strip()
        if key in current:
            rows.append(current)
            current = {}
        current[key] = value
    if current:
        rows.append(current)
    return rows


def _qfe_table(header: str, body: list[str]) -> list[dict[str, str]]:
    columns = [(m.start(), m.group().casefold()) for m in re.finditer(r"\S+", header)]
    kb_start = next(start for start, name in columns if name == "hotfixid")
    before = [(start, name) for start, name in columns if start < kb_start]
    by_start = next((start for start, name in columns if name == "installedby"), None)
    rows = []
    for line in body:
        if not line.strip() or set(line.strip()) <= {"-", " "}:
            continue
        tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", line)]
        kb_index = next((i for i, (_s, tok) in enumerate(tokens) if _KB_TOKEN_RE.match(tok)), None)
        if kb_index is None:
            continue
        row = {"hotfixid": tokens[kb_index][1]}
        # Before the HotFixID, columns hold ASCII names and URLs: read them by position.
        for start, token in tokens[:kb_index]:
            if token.casefold().startswith("http"):
                row["caption"] = token
                continue
            owners = [name for col_start, name in before if col_start <= start]
            if owners and owners[-1] not in row:
                row[owners[-1]] = token
        # After it, widths can be off (non-ASCII user names): read the values by their shape.
        for start, token in tokens[kb_index + 1 :]:
            if _looks_like_date(token):
                row["installedon"] = token
            elif "installedby" not in row and (by_start is None or start >= by_start - 2):
                row["installedby"] = token
        rows.append(row)
    return rows


def _looks_like_date(token: str) -> bool:
    return bool(
        _US_DATE_RE.match(token)
        or _ISO_DATE_RE.match(token)
        or _DOTTED_DATE_RE.match(token)
        or _FILETIME_RE.match(token)
    )


def _qfe_date(value: str) -> str | None:
    """``InstalledOn`` as an ISO date: M/D/YYYY (what WMI returns), ISO, D.M.YYYY or FILETIME."""
    value = value.strip()
    if not value:
        return None
    try:
        us, iso, dotted = (p.match(value) for p in (_US_DATE_RE, _ISO_DATE_RE, _DOTTED_DATE_RE))
        if us:
            month, day, year = (int(g) for g in us.groups())
            return datetime(year, month, day).date().isoformat()
        if iso:
            year, month, day = (int(g) for g in iso.groups())
            return datetime(year, month, day).date().isoformat()
        if dotted:
            day, month, year = (int(g) for g in dotted.groups())
            return datetime(year, month, day).date().isoformat()
        if _FILETIME_RE.match(value):
            ticks = int(value, 16)
            moment = datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ticks // 10)
            return moment.date().isoformat()
    except (ValueError, OverflowError):
        return None
    return None
