"""Pure parsers of the operating system's own install records: what Windows Update, macOS and
the Linux package managers wrote down about each install, with its time and record id.

Every parser returns a list of records, each a dict of the discovery payload's
``os_install_records`` rows::

    {"source": "windows_update", "record_id": "48213", "occurred_at": "2026-03-11T03:12:45Z",
     "outcome": "installed", "name": "2026-03 Cumulative Update … (KB5079473)",
     "version": "", "kb": "KB5079473", "detail": ""}

``outcome`` is one of ``installed``, ``failed``, ``removed``, ``started``. Times are RFC 3339
with an offset; logs that write local time without one are read in ``tz`` (the machine's own
zone unless told). Input that is not of the format raises ``ParseError`` saying what was
expected; a damaged line inside a readable file is skipped. Standard library only, valid on
Python 3.7.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Dict

from patchops_agent.parsers.errors import ParseError

__all__ = [
    "SOURCES",
    "parse_wu_events_xml",
    "parse_wu_events_json",
    "parse_softwareupdate_history",
    "parse_install_log",
    "parse_apt_history",
    "parse_dpkg_log",
    "parse_dnf_rpm_log",
    "parse_yum_log",
]

Record = Dict[str, str]

# source key → (OS family, what it is), shared with the portal's scope page.
SOURCES = {
    "windows_update": ("windows", "Windows Update client events (System log)"),
    "softwareupdate": ("macos", "softwareupdate --history"),
    "install_log": ("macos", "/var/log/install.log"),
    "apt_history": ("linux", "/var/log/apt/history.log"),
    "dpkg_log": ("linux", "/var/log/dpkg.log"),
    "dnf_rpm_log": ("linux", "/var/log/dnf.rpm.log"),
    "yum_log": ("linux", "/var/log/yum.log"),
}

_UTC = timezone.utc  # noqa: UP017 (datetime.UTC is 3.11+)
_KB = re.compile(r"\bKB\s?(\d{5,8})\b", re.IGNORECASE)


def _local_zone() -> tzinfo:
    return datetime.now().astimezone().tzinfo or _UTC


def _iso(moment: datetime) -> str:
    return moment.astimezone(_UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _record(
    source: str,
    record_id: str,
    occurred_at: datetime,
    outcome: str,
    name: str,
    version: str = "",
    kb: str = "",
    detail: str = "",
) -> Record:
    return {
        "source": source,
        "record_id": record_id[:200],
        "occurred_at": _iso(occurred_at),
        "outcome": outcome,
        "name": name[:300],
        "version": version[:200],
        "kb": kb,
        "detail": detail[:500],
    }


def _kb_of(text: str) -> str:
    match = _KB.search(text or "")
    return f"KB{match.group(1)}" if match else ""


# --- Windows: Microsoft-Windows-WindowsUpdateClient events 19, 20, 43 ------------------------
# Event 19 "Installation Successful: Windows successfully installed the following update: %1",
# 20 "Installation Failure: Windows failed to install the following update with error %1: %2",
# 43 "Installation Started" (the message table of wuaueng.dll). Their EventData names are
# updateTitle, updateGuid, updateRevisionNumber (and errorCode for 20); the title keeps the
# "(KBnnnnnnn)" in every language.

_WU_PROVIDER = "Microsoft-Windows-WindowsUpdateClient"
_WU_OUTCOMES = {19: "installed", 20: "failed", 43: "started"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for item in element:
        if _local(item.tag) == name:
            return item
    return None


def _windows_time(value: str) -> datetime | None:
    """``2026-03-11T03:12:45.1234567Z`` (seven fraction digits), ``/Date(1773198765123)/``
    (Windows PowerShell 5.1's ConvertTo-Json) or an ISO time with an offset (PowerShell 7)."""
    text = (value or "").strip()
    match = re.fullmatch(r"/?\\?/?Date\((-?\d+)(?:[+-]\d{4})?\)\\?/?", text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, _UTC)
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?", text
    )
    if not match:
        return None
    day, clock, _, zone = match.groups()
    try:
        moment = datetime.strptime(f"{day}T{clock}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    if not zone or zone == "Z":
        return moment.replace(tzinfo=_UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=timezone(sign * offset))


def _wu_record(
    event_id: int, record_id: str, when: datetime | None, data: dict[str, str]
) -> Record | None:
    outcome = _WU_OUTCOMES.get(event_id)
    if outcome is None or when is None or not record_id:
        return None
    title = data.get("updateTitle", "")
    error = data.get("errorCode", "") if outcome == "failed" else ""
    if error.isdigit():
        error = f"0x{int(error):08X}"
    return _record(
        "windows_update",
        record_id,
        when,
        outcome,
        title,
        version=data.get("updateRevisionNumber", ""),
        kb=_kb_of(title),
        detail=f"error {error}" if error else "",
    )


def parse_wu_events_xml(text: str) -> list[Record]:
    """``wevtutil qe System /q:"*[System[Provider[@Name='Microsoft-Windows-WindowsUpdateClient']]]"
    /f:xml`` (or /f:RenderedXml, or an Event Viewer "Save as XML" file with an ``<Events>`` root):
    the install events 19, 20 and 43. wevtutil prints the events one after another without a root
    element; both shapes are read."""
    body = re.sub(r"^\ufeff?\s*<\?xml[^>]*\?>", "", text or "").strip()
    if "<!DOCTYPE" in body.upper() or "<!ENTITY" in body.upper():
        raise ParseError("Expected a Windows event XML export; a DOCTYPE is not allowed in one.")
    if "<Event" not in body:
        raise ParseError("Expected a Windows event XML export (<Event> elements); found none.")
    try:
        root = ET.fromstring(f"<EventsRoot>{body}</EventsRoot>")
    except ET.ParseError as exc:
        raise ParseError(
            f"Expected a Windows event XML export; the XML is damaged ({exc})."
        ) from None
    records = []
    for event in root.iter():
        if _local(event.tag) != "Event":
            continue
        system = _child(event, "System")
        if system is None:
            continue
        provider = _child(system, "Provider")
        if provider is None or provider.get("Name") != _WU_PROVIDER:
            continue
        event_id_el = _child(system, "EventID")
        record_el = _child(system, "EventRecordID")
        time_el = _child(system, "TimeCreated")
        try:
            event_id = int((event_id_el.text or "").strip()) if event_id_el is not None else 0
        except ValueError:
            continue
        data: dict[str, str] = {}
        event_data = _child(event, "EventData")
        for item in event_data if event_data is not None else []:
            if _local(item.tag) == "Data" and item.get("Name"):
                data[item.get("Name", "")] = (item.text or "").strip()
        found = _wu_record(
            event_id,
            (record_el.text or "").strip() if record_el is not None else "",
            _windows_time(time_el.get("SystemTime", "")) if time_el is not None else None,
            data,
        )
        if found:
            records.append(found)
    return records


_JSON_PROPERTY_NAMES = {
    19: ("updateTitle", "updateGuid", "updateRevisionNumber"),
    20: ("errorCode", "updateTitle", "updateGuid", "updateRevisionNumber"),
    43: ("updateTitle", "updateGuid", "updateRevisionNumber"),
}


def parse_wu_events_json(text: str) -> list[Record]:
    """``Get-WinEvent -FilterHashtable @{LogName='System';
    ProviderName='Microsoft-Windows-WindowsUpdateClient'} | ConvertTo-Json``: one object or a
    list; ``Id``, ``RecordId``, ``TimeCreated`` and ``Properties`` (``[{"Value": …}]`` in the
    event's EventData order). Without Properties the KB is read from ``Message``."""
    body = (text or "").lstrip("\ufeff").strip()
    if not body:
        return []  # no events since the last run: PowerShell printed nothing
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ParseError(f"Expected Get-WinEvent output as JSON; it is not JSON ({exc}).") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ParseError("Expected Get-WinEvent output as JSON: an event object or a list.")
    records = []
    for event in data:
        if not isinstance(event, dict) or "Id" not in event:
            raise ParseError("Expected Get-WinEvent output: every event needs its Id.")
        provider = event.get("ProviderName")
        if provider not in (None, _WU_PROVIDER):
            continue
        try:
            event_id = int(event.get("Id"))
        except (TypeError, ValueError):
            continue
        values = [
            p.get("Value") if isinstance(p, dict) else p
            for p in (event.get("Properties") or [])
            if isinstance(event.get("Properties"), list)
        ]
        fields: dict[str, str] = {}
        for name, value in zip(_JSON_PROPERTY_NAMES.get(event_id, ()), values):
            fields[name] = "" if value is None else str(value)
        if not fields.get("updateTitle"):
            message = str(event.get("Message") or "")
            fields["updateTitle"] = message.rsplit(": ", 1)[-1].strip() if message else ""
        when = event.get("TimeCreated")
        if isinstance(when, dict):  # ConvertTo-Json -Depth of a DateTime with its properties
            when = when.get("value") or when.get("DateTime")
        found = _wu_record(
            event_id,
            str(event.get("RecordId") or ""),
            _windows_time(str(when or "")),
            fields,
        )
        if found:
            records.append(found)
    return records


# --- macOS -----------------------------------------------------------------------------------
# ``softwareupdate --history`` (softwareupdate(8), macOS 10.15 and later) prints a table with
# the columns Display Name, Version and Date, the date in the user's locale:
# "02/16/2026, 10:11:40" (en_US), "16.02.2026, 10:11:40" (de), "16/02/2026, 10:11:40" (en_GB),
# "2026/02/16 10:11:40" (ja). Older systems have no --history (an error is printed).

_DATE_PATTERNS = [
    (re.compile(r"(\d{4})[/.-](\d{1,2})[/.-](\d{1,2}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"), "ymd"),
    (re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{2,4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"), "dm"),
]


def _history_dates(rows: list[str]) -> bool | None:
    """Whether the ``a/b/yyyy`` dates of one output are day first: a part above 12 decides;
    a dot means day first (German and most of Europe); otherwise month first (en_US)."""
    pattern = _DATE_PATTERNS[1][0]
    dot = False
    for row in rows:
        match = pattern.search(row)
        if not match:
            continue
        first, sep, second = int(match.group(1)), match.group(2), int(match.group(3))
        if first > 12:
            return True
        if second > 12:
            return False
        dot = dot or sep == "."
    return dot


def _history_time(value: str, day_first: bool, tz: tzinfo) -> datetime | None:
    text = value.strip()
    match = _DATE_PATTERNS[0][0].search(text)
    try:
        if match:
            y, m, d, hh, mm, ss = match.groups()
            return datetime(int(y), int(m), int(d), int(hh), int(mm), int(ss or 0), tzinfo=tz)
        match = _DATE_PATTERNS[1][0].search(text)
        if match:
            a, _, b, y, hh, mm, ss = match.groups()
            day, month = (int(a), int(b)) if day_first else (int(b), int(a))
            year = int(y) + (2000 if len(y) == 2 else 0)
            return datetime(year, month, day, int(hh), int(mm), int(ss or 0), tzinfo=tz)
    except ValueError:
        return None
    return None


def parse_softwareupdate_history(text: str, tz: tzinfo | None = None) -> list[Record]:
    """``softwareupdate --history`` → installed records (one per row)."""
    tz = tz or _local_zone()
    lines = [line.rstrip() for line in (text or "").splitlines()]
    if not any(lines):
        return []
    rule = next((i for i, line in enumerate(lines) if re.match(r"^-{3,}(\s+-{3,}){2}", line)), None)
    if rule is None:
        if any("Display Name" in line for line in lines) and not any(
            line.strip() for line in lines[1:]
        ):
            return []
        raise ParseError(
            "Expected `softwareupdate --history` output: a table with the columns "
            "Display Name, Version and Date."
        )
    starts = [m.start() for m in re.finditer(r"-{3,}", lines[rule])]
    rows = [line for line in lines[rule + 1 :] if line.strip()]
    day_first = bool(_history_dates(rows))
    records = []
    for row in rows:
        aligned = len(row) > starts[2] and row[starts[1] - 1] == " " and row[starts[2] - 1] == " "
        if aligned:
            name = row[: starts[1]].strip()
            version = row[starts[1] : starts[2]].strip()
            date_text = row[starts[2] :].strip()
        else:
            # A name wider than its column pushes the others right: the date is the row's end,
            # the version the word (and a "(a)" revision) before it.
            match = re.match(r"^(.*?)\s+(\S+(?: \([a-z]\))?)\s+(\d[\d/.,: -]+\d)\s*$", row.strip())
            if not match:
                continue
            name, version, date_text = match.groups()
        when = _history_time(date_text, day_first, tz)
        if when is None:
            continue
        records.append(
            _record(
                "softwareupdate",
                f"{_iso(when)}/{name}/{version}",
                when,
                "installed",
                name,
                version=version,
            )
        )
    return records


# /var/log/install.log: "2026-02-16 10:05:33-08 host process[pid]: message"; installs are
# written as 'Installed "Name" (version)' by softwareupdated and installd (PackageKit).
_INSTALL_LOG_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})([+-]\d{2}(?::?\d{2})?)?\s+\S+\s+([^\s:\[]+)"
    r"(?:\[\d+\])?:\s*(.*)$"
)
_INSTALLED = re.compile(r"\bInstalled \"([^\"]+)\"(?:\s*\(([^)]*)\))?")
_INSTALL_FAILED = re.compile(r"\b(?:Install|Installation) failed\b.*?\"([^\"]+)\"", re.IGNORECASE)


def _offset(zone: str | None, tz: tzinfo) -> tzinfo:
    if not zone:
        return tz
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


def parse_install_log(text: str, tz: tzinfo | None = None) -> list[Record]:
    """/var/log/install.log → installed (and failed) records."""
    tz = tz or _local_zone()
    records = []
    dated = 0
    for line in (text or "").splitlines():
        match = _INSTALL_LOG_LINE.match(line)
        if not match:
            continue
        dated += 1
        day, clock, zone, process, message = match.groups()
        found = _INSTALLED.search(message)
        failed = None if found else _INSTALL_FAILED.search(message)
        if not found and not failed:
            continue
        try:
            when = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=_offset(zone, tz)
            )
        except ValueError:
            continue
        if found:
            name, version = found.group(1), (found.group(2) or "").strip()
            outcome = "installed"
        else:
            name, version, outcome = failed.group(1), "", "failed"
        records.append(
            _record(
                "install_log",
                f"{_iso(when)}/{outcome}/{name}",
                when,
                outcome,
                name,
                version=version,
                detail=process,
            )
        )
    if text and text.strip() and not dated:
        raise ParseError(
            "Expected /var/log/install.log lines such as "
            "'2026-02-16 10:05:33-08 host installd[513]: …'; found none."
        )
    return records


# --- Linux -----------------------------------------------------------------------------------
# /var/log/apt/history.log (apt's own history, written since apt 0.8): blocks of
# "Start-Date:", "Commandline:", optional "Requested-By:", "Install:", "Upgrade:", "Downgrade:",
# "Remove:", "Purge:", "Reinstall:", an "Error:" line when dpkg failed, and "End-Date:". Package
# lists are "name:arch (version)" or "name:arch (old, new)", ", automatic" marking dependencies.

_APT_DATE = "%Y-%m-%d  %H:%M:%S"
_APT_PACKAGE = re.compile(r"([^\s,()]+) \(([^)]*)\)")
_APT_ACTIONS = {
    "Install": "installed",
    "Upgrade": "installed",
    "Downgrade": "installed",
    "Reinstall": "installed",
    "Remove": "removed",
    "Purge": "removed",
}


def _apt_time(value: str, tz: tzinfo) -> datetime | None:
    text = re.sub(r"\s+", " ", value.strip())
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        return None


def parse_apt_history(text: str, tz: tzinfo | None = None) -> list[Record]:
    """/var/log/apt/history.log (one file, rotated ones decompressed by the caller) → a record per
    package of each transaction; a transaction with an ``Error:`` line makes its installs
    ``failed`` with the error as detail."""
    tz = tz or _local_zone()
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in (text or "").splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            if line.strip() and current is not None and line.startswith(" "):
                continue
            continue
        if key == "Start-Date":
            current = {"Start-Date": value}
            blocks.append(current)
        elif current is not None:
            current[key] = (current.get(key, "") + ", " + value) if key in current else value
    if text and text.strip() and not blocks:
        raise ParseError(
            "Expected apt's history.log: blocks starting with 'Start-Date: YYYY-MM-DD  HH:MM:SS'."
        )
    records = []
    for block in blocks:
        when = _apt_time(block["Start-Date"], tz)
        if when is None:
            continue
        error = block.get("Error", "")
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S")
        for action, outcome in _APT_ACTIONS.items():
            for name, versions in _APT_PACKAGE.findall(block.get(action, "")):
                parts = [v.strip() for v in versions.split(",") if v.strip() != "automatic"]
                version = parts[-1] if parts else ""
                result = "failed" if error and outcome == "installed" else outcome
                records.append(
                    _record(
                        "apt_history",
                        f"{stamp}/{action}/{name}",
                        when,
                        result,
                        name.split(":", 1)[0],
                        version=version,
                        detail=(error or block.get("Commandline", ""))[:500],
                    )
                )
    return records


# /var/log/dpkg.log (dpkg(1) "FILES"): "YYYY-MM-DD HH:MM:SS action pkg:arch old new" for
# install/upgrade/remove/purge and "YYYY-MM-DD HH:MM:SS status state pkg:arch version"; the
# "status installed" line is the package reaching its installed state.
_DPKG_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (\S+) (.*)$")


def parse_dpkg_log(text: str, tz: tzinfo | None = None) -> list[Record]:
    """/var/log/dpkg.log → ``status installed`` (installed), ``remove``/``purge`` (removed)."""
    tz = tz or _local_zone()
    records = []
    dated = 0
    for line in (text or "").splitlines():
        match = _DPKG_LINE.match(line)
        if not match:
            continue
        dated += 1
        stamp, action, rest = match.groups()
        fields = rest.split()
        if action == "status" and len(fields) == 3 and fields[0] == "installed":
            package, version, outcome = fields[1], fields[2], "installed"
        elif action in ("remove", "purge") and len(fields) >= 2:
            package, version, outcome = fields[0], fields[1], "removed"
        else:
            continue
        when = _apt_time(stamp, tz)
        if when is None:
            continue
        records.append(
            _record(
                "dpkg_log",
                f"{when.strftime('%Y-%m-%dT%H:%M:%S')}/{action}/{package}/{version}",
                when,
                outcome,
                package.split(":", 1)[0],
                version=version,
            )
        )
    if text and text.strip() and not dated:
        raise ParseError(
            "Expected dpkg.log lines such as '2026-03-02 10:00:01 status installed …'."
        )
    return records


# RPM names as logged: [epoch:]name-version-release.arch
_NEVRA = re.compile(r"^(?:(\d+):)?(.+)-([^-]+)-([^-]+?)(?:\.([A-Za-z0-9_]+))?$")
_ARCHES = {"x86_64", "noarch", "i686", "i386", "aarch64", "ppc64le", "s390x", "armv7hl", "src"}


def _split_nevra(value: str) -> tuple:
    text = value.strip()
    arch = ""
    head, dot, tail = text.rpartition(".")
    if dot and tail in _ARCHES:
        text, arch = head, tail
    epoch = ""
    match = re.match(r"^(\d+):(.*)$", text)
    if match:
        epoch, text = match.groups()
    parts = text.rsplit("-", 2)
    if len(parts) < 3:
        return text, "", arch
    name, version, release = parts
    if re.match(r"^\d+:", version):  # name-epoch:version-release (dnf's own layout)
        epoch, version = version.split(":", 1)
    full = f"{version}-{release}"
    return name, (f"{epoch}:{full}" if epoch and epoch != "0" else full), arch


# /var/log/dnf.rpm.log (dnf 4): "2026-03-02T10:00:01+0000 SUBDEBUG Upgrade: pkg-2.0-1.el9.x86_64"
# is the new package going in, "… Upgraded: pkg-1.0-1.el9.x86_64" the old one leaving;
# "Installed:", "Install:", "Erase:", "Reinstall:", "Downgrade:". Older dnf (2.x) wrote only
# "Installed:"/"Upgraded:"/"Erased:" lines naming the result, so "Upgraded:" is the new package
# there: a log with no "Upgrade:" line at all is read that way.
_DNF_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})?\s+(?:SUBDEBUG|INFO|DEBUG)\s+"
    r"([A-Za-z]+):\s+(\S+)"
)
_DNF_NEW = {"Upgrade", "Install", "Installed", "Downgrade", "Reinstall", "Reinstalled"}
_DNF_GONE = {"Erase", "Erased", "Obsoleted"}


def parse_dnf_rpm_log(text: str, tz: tzinfo | None = None) -> list[Record]:
    """/var/log/dnf.rpm.log → installed and removed records."""
    tz = tz or _local_zone()
    lines = [(n, _DNF_LINE.match(line)) for n, line in enumerate((text or "").splitlines(), 1)]
    matches = [(n, m) for n, m in lines if m]
    if text and text.strip() and not matches and not re.search(r"^\d{4}-\d{2}-\d{2}T", text, re.M):
        raise ParseError(
            "Expected dnf.rpm.log lines such as "
            "'2026-03-02T10:00:01+0000 SUBDEBUG Upgrade: openssl-3.0.7-27.el9.x86_64'."
        )
    new_layout = any(m.group(3) == "Upgrade" for _, m in matches)
    records = []
    for _, match in matches:
        stamp, zone, action, package = match.groups()
        if action in _DNF_NEW or (action == "Upgraded" and not new_layout):
            outcome = "installed"
        elif action in _DNF_GONE:
            outcome = "removed"
        else:
            continue
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=_offset(zone if zone and zone != "Z" else "+00:00", tz) if zone else tz
            )
        except ValueError:
            continue
        name, version, _ = _split_nevra(package)
        records.append(
            _record(
                "dnf_rpm_log",
                f"{stamp}/{action}/{package}",
                when,
                outcome,
                name,
                version=version,
                detail=action,
            )
        )
    return records


# /var/log/yum.log (yum 3, RHEL/CentOS 7 and older): "Mar 02 10:00:01 Updated: pkg-…" with no
# year ("Installed:", "Updated:", "Erased:"); the year is the log's own (``year``), and a date
# after ``now`` belongs to the year before (the log was rotated across New Year).
_YUM_LINE = re.compile(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2}) ([A-Za-z]+): (.+)$")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def parse_yum_log(text: str, tz: tzinfo | None = None, now: datetime | None = None) -> list[Record]:
    """/var/log/yum.log → installed and removed records."""
    tz = tz or _local_zone()
    now = now or datetime.now(tz)
    records = []
    dated = 0
    for line in (text or "").splitlines():
        match = _YUM_LINE.match(line.strip())
        if not match or match.group(1) not in _MONTHS:
            continue
        dated += 1
        month, day, clock, action, package = match.groups()
        if action in ("Installed", "Updated"):
            outcome = "installed"
        elif action == "Erased":
            outcome = "removed"
        else:
            continue
        try:
            hh, mm, ss = (int(x) for x in clock.split(":"))
            when = datetime(now.year, _MONTHS[month], int(day), hh, mm, ss, tzinfo=tz)
        except ValueError:
            continue
        if when > now + timedelta(days=1):
            when = when.replace(year=when.year - 1)
        name, version, _ = _split_nevra(package.strip())
        records.append(
            _record(
                "yum_log",
                f"{when.strftime('%Y-%m-%dT%H:%M:%S')}/{action}/{package.strip()}",
                when,
                outcome,
                name,
                version=version,
                detail=action,
            )
        )
    if text and text.strip() and not dated:
        raise ParseError("Expected yum.log lines such as 'Mar 02 10:00:01 Updated: openssl-…'.")
    return records


def since(records: list[Record], moment: datetime | None) -> list[Record]:
    """The records at or after ``moment`` (all without one)."""
    if moment is None:
        return list(records)
    mark = _iso(moment)
    return [r for r in records if r["occurred_at"] >= mark]


def describe(source: str) -> Any:
    return SOURCES.get(source, ("other", source))
