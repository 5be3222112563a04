"""Validation of the discovery payload (DESIGN "The discovery payload").

``validate_payloads(data)`` takes what a caller sent (one object or a list of objects, already
decoded from JSON) and returns normalised :class:`Device` records, or raises
:class:`PayloadError` listing every problem by its path (``[2].programs[5].name``). It never
raises anything else, whatever it is given. Unknown keys are ignored; a table that is absent
means "not collected" and is ``None`` on the device (an empty list means "nothing installed").

osquery prints every column as a string, so text columns accept strings and numbers; nulls
count as empty. A ``patchops`` object may carry asset attributes that osquery does not know
(role, asset class, owner, location, site, ePHI, data flows): CSV imports use it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from .choices import (
    AssetRole,
    DataFlow,
    InstallOutcome,
    InstallRecordSource,
    ReportedSeverity,
    SoftwareKind,
    UpdateSource,
)

__all__ = [
    "PayloadError",
    "Device",
    "SoftwareRow",
    "UpdateRow",
    "InstallRecordRow",
    "SOFTWARE_TABLES",
    "validate_payloads",
    "normalise_mac",
]

MAX_DEVICES = 50_000
MAX_ROWS_PER_TABLE = 20_000

# osquery table → software kind.
SOFTWARE_TABLES: dict[str, str] = {
    "programs": SoftwareKind.PROGRAM,
    "patches": SoftwareKind.HOTFIX,
    "deb_packages": SoftwareKind.DEB,
    "rpm_packages": SoftwareKind.RPM,
    "apk_packages": SoftwareKind.APK,
    "apps": SoftwareKind.APP,
    "homebrew_packages": SoftwareKind.HOMEBREW,
}

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$")
_JUNK_SERIALS = {
    "",
    "0",
    "none",
    "n/a",
    "na",
    "default string",
    "to be filled by o.e.m.",
    "system serial number",
    "not specified",
    "0123456789",
}


class PayloadError(Exception):
    """The payload is not acceptable. ``errors`` maps a field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        first = next(iter(errors.items())) if errors else ("payload", ["invalid"])
        super().__init__(f"{first[0]}: {first[1][0]}" + (" (and more)" if len(errors) > 1 else ""))


class SoftwareRow(NamedTuple):
    kind: str
    name: str
    version: str
    arch: str
    vendor: str
    install_date: date | None


@dataclass(frozen=True, slots=True)
class UpdateRow:
    name: str
    installed_version: str
    available_version: str
    source: str
    advisory: str
    cves: tuple[str, ...]
    severity: str
    reboot_required: bool


@dataclass(frozen=True, slots=True)
class InstallRecordRow:
    source: str
    record_id: str
    occurred_at: datetime
    outcome: str
    name: str
    version: str
    kb: str
    detail: str


@dataclass
class Device:
    hostname: str
    agent_id: str | None = None
    serial: str = ""
    collected_at: datetime | None = None
    os: dict[str, str] = field(default_factory=dict)
    hardware: dict[str, str] = field(default_factory=dict)
    macs: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    # kind → rows, only for the tables that were sent.
    software: dict[str, list[SoftwareRow]] = field(default_factory=dict)
    pending_updates: list[UpdateRow] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # The OS's own install records (``os_install_records``); None when not collected.
    install_records: list[InstallRecordRow] | None = None
    # Whether the device reports a restart pending (``reboot_pending``); None when not sent.
    reboot_pending: bool | None = None


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        if len(self.errors) < 200:
            self.errors.setdefault(path or "payload", []).append(message)


def _text(value: Any, path: str, errs: _Errors, max_length: int = 255) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errs.add(path, "Expected a string.")
        return ""
    try:
        text = str(value).strip().replace("\x00", "")
    except ValueError:  # an integer too long to print
        errs.add(path, "Expected a string.")
        return ""
    if len(text) > max_length:
        errs.add(path, f"At most {max_length} characters (got {len(text)}).")
        return ""
    return text


def _object(value: Any, path: str, errs: _Errors) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errs.add(path, "Expected an object.")
        return None
    return value


def _rows(value: Any, path: str, errs: _Errors) -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        errs.add(path, "Expected a list of objects.")
        return None
    if len(value) > MAX_ROWS_PER_TABLE:
        errs.add(path, f"At most {MAX_ROWS_PER_TABLE} rows per table.")
        return None
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            errs.add(f"{path}[{i}]", "Expected an object.")
        else:
            rows.append((i, row))
    return rows


def _bool(value: Any, path: str, errs: _Errors) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    errs.add(path, "Expected true or false.")
    return False


_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%Y")


def _loose_date(value: Any) -> date | None:
    """Install dates come in every shape; an unreadable one is simply unknown."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()[:10]
    if text.isdigit() and len(text) == 10:  # epoch seconds
        try:
            return datetime.fromtimestamp(int(text)).date()  # noqa: DTZ006
        except (OverflowError, OSError, ValueError):
            return None
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).date()  # noqa: DTZ007
        except ValueError:
            continue
        if 1980 <= parsed.year <= 2100:
            return parsed
    return None


def _timestamp(value: Any, path: str, errs: _Errors) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errs.add(path, "Expected an RFC 3339 time such as 2026-01-31T08:00:00Z.")
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        errs.add(path, "Expected an RFC 3339 time such as 2026-01-31T08:00:00Z.")
        return None
    if parsed.tzinfo is None:
        errs.add(path, "The time needs a UTC offset (for example Z).")
        return None
    return parsed


def normalise_mac(value: str) -> str | None:
    text = value.strip().lower()
    if not _MAC_RE.match(text):
        return None
    digits = re.sub(r"[^0-9a-f]", "", text)
    if digits in ("000000000000", "ffffffffffff"):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _choice(value: str, choices: type, path: str, errs: _Errors, default: str) -> str:
    if not value:
        return default
    value = value.lower()
    if value not in choices.values:
        errs.add(path, f"Must be one of: {', '.join(choices.values)}.")
        return default
    return value


def _field(row: dict, key: str, path: str, i: int, errs: _Errors, max_length: int = 255) -> str:
    """``_text`` of ``row[key]`` with a fast path for clean strings (the common case)."""
    value = row.get(key)
    if value.__class__ is str:
        if len(value) <= max_length and "\x00" not in value:
            return value.strip()
    elif value is None:
        return ""
    return _text(value, f"{path}[{i}].{key}", errs, max_length)


def _software(table: str, rows: list, path: str, errs: _Errors) -> list[SoftwareRow]:
    kind = SOFTWARE_TABLES[table]
    seen: dict[tuple[str, str], SoftwareRow] = {}
    for i, row in rows:
        if table == "patches":
            name = _field(row, "hotfix_id", path, i, errs, 300).upper()
            if not name:
                errs.add(f"{path}[{i}].hotfix_id", "This field is required.")
                continue
            version, arch = "", ""
            vendor = "Microsoft"
            installed = _loose_date(row.get("installed_on"))
            _field(row, "description", path, i, errs, 500)
        else:
            name = _field(row, "name", path, i, errs, 300)
            if not name:
                errs.add(f"{path}[{i}].name", "This field is required.")
                continue
            arch = _field(row, "arch", path, i, errs, 30)
            vendor = ""
            installed = None
            if table == "programs":
                version = _field(row, "version", path, i, errs, 200)
                vendor = _field(row, "publisher", path, i, errs, 200)
                installed = _loose_date(row.get("install_date"))
            elif table == "rpm_packages":
                version = _field(row, "version", path, i, errs, 120)
                release = _field(row, "release", path, i, errs, 60)
                epoch = _field(row, "epoch", path, i, errs, 10)
                if release:
                    version = f"{version}-{release}"
                if epoch and epoch != "0":
                    version = f"{epoch}:{version}"
                vendor = _field(row, "vendor", path, i, errs, 200)
            elif table == "apps":
                version = _field(row, "bundle_short_version", path, i, errs, 200)
                version = version or _field(row, "bundle_version", path, i, errs, 200)
                bundle = _field(row, "bundle_identifier", path, i, errs, 300)
                if bundle.startswith(("com.", "org.")) and bundle.count(".") >= 2:
                    vendor = bundle.split(".")[1]
                if name.endswith(".app"):
                    name = name[:-4]
            else:
                version = _field(row, "version", path, i, errs, 200)
                if table == "deb_packages":
                    vendor = _field(row, "maintainer", path, i, errs, 200)
        key = (name, arch)
        if key not in seen:  # the first report of a duplicated row wins
            seen[key] = SoftwareRow(kind, name, version, arch, vendor, installed)
    return list(seen.values())


def _updates(rows: list, path: str, errs: _Errors) -> list[UpdateRow]:
    seen: dict[tuple[str, str], UpdateRow] = {}
    for i, row in rows:
        p = f"{path}[{i}]"
        name = _text(row.get("name"), f"{p}.name", errs, max_length=300)
        if not name:
            errs.add(f"{p}.name", "This field is required.")
            continue
        source = _choice(
            _text(row.get("source"), f"{p}.source", errs, max_length=20),
            UpdateSource,
            f"{p}.source",
            errs,
            UpdateSource.OTHER,
        )
        severity = _choice(
            _text(row.get("severity"), f"{p}.severity", errs, max_length=10),
            ReportedSeverity,
            f"{p}.severity",
            errs,
            ReportedSeverity.UNKNOWN,
        )
        cves_raw = row.get("cves")
        cves: list[str] = []
        if cves_raw is not None:
            if not isinstance(cves_raw, list):
                errs.add(f"{p}.cves", "Expected a list of CVE ids.")
            else:
                for j, cve in enumerate(cves_raw):
                    text = _text(cve, f"{p}.cves[{j}]", errs, max_length=30).upper()
                    if text and not re.fullmatch(r"CVE-\d{4}-\d{4,}", text):
                        errs.add(f"{p}.cves[{j}]", "Expected a CVE id such as CVE-2024-1234.")
                    elif text and text not in cves:
                        cves.append(text)
        update = UpdateRow(
            name=name,
            installed_version=_text(
                row.get("installed_version"), f"{p}.installed_version", errs, max_length=200
            ),
            available_version=_text(
                row.get("available_version"), f"{p}.available_version", errs, max_length=200
            ),
            source=source,
            advisory=_text(row.get("advisory"), f"{p}.advisory", errs, max_length=100),
            cves=tuple(cves),
            severity=severity,
            reboot_required=_bool(row.get("reboot_required"), f"{p}.reboot_required", errs),
        )
        seen.setdefault((source, name), update)
    return list(seen.values())


_KB_RE = re.compile(r"^KB\d{5,8}$")


def _install_records(rows: list, path: str, errs: _Errors) -> list[InstallRecordRow]:
    """``os_install_records`` rows (the agent's ``osrecords`` parsers): source, record id, time
    and outcome are required; one row per (source, record id), the first wins."""
    seen: dict[tuple[str, str], InstallRecordRow] = {}
    for i, row in rows:
        p = f"{path}[{i}]"
        source = _text(row.get("source"), f"{p}.source", errs, max_length=20)
        if source not in InstallRecordSource.values:
            errs.add(f"{p}.source", f"Must be one of: {', '.join(InstallRecordSource.values)}.")
            continue
        record_id = _text(row.get("record_id"), f"{p}.record_id", errs, max_length=200)
        if not record_id:
            errs.add(f"{p}.record_id", "This field is required.")
            continue
        occurred = _timestamp(row.get("occurred_at"), f"{p}.occurred_at", errs)
        if occurred is None:
            if row.get("occurred_at") in (None, ""):
                errs.add(f"{p}.occurred_at", "This field is required.")
            continue
        outcome = _text(row.get("outcome"), f"{p}.outcome", errs, max_length=10).lower()
        if outcome not in InstallOutcome.values:
            errs.add(f"{p}.outcome", f"Must be one of: {', '.join(InstallOutcome.values)}.")
            continue
        kb = _text(row.get("kb"), f"{p}.kb", errs, max_length=12).upper()
        if kb and not _KB_RE.match(kb):
            errs.add(f"{p}.kb", "Expected a KB number such as KB5034441.")
            continue
        seen.setdefault(
            (source, record_id),
            InstallRecordRow(
                source=source,
                record_id=record_id,
                occurred_at=occurred,
                outcome=outcome,
                name=_text(row.get("name"), f"{p}.name", errs, max_length=300),
                version=_text(row.get("version"), f"{p}.version", errs, max_length=200),
                kb=kb,
                detail=_text(row.get("detail"), f"{p}.detail", errs, max_length=500),
            ),
        )
    return list(seen.values())


_ATTRIBUTE_TEXT = {"owner": 200, "location": 200, "site": 120, "asset_class": 50}


def _attributes(value: dict, path: str, errs: _Errors) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, limit in _ATTRIBUTE_TEXT.items():
        if key in value:
            attrs[key] = _text(value[key], f"{path}.{key}", errs, max_length=limit)
    if "role" in value and value["role"] not in (None, ""):
        role = _text(value["role"], f"{path}.role", errs, max_length=20)
        attrs["role"] = _choice(
            role.replace(" ", "_"), AssetRole, f"{path}.role", errs, AssetRole.OTHER
        )
    if "ephi" in value and value["ephi"] not in (None, ""):
        attrs["is_ephi"] = _bool(value["ephi"], f"{path}.ephi", errs)
    if "data_flows" in value and value["data_flows"] is not None:
        flows = value["data_flows"]
        if isinstance(flows, str):
            flows = [f for f in re.split(r"[;,|\s]+", flows) if f]
        if not isinstance(flows, list):
            errs.add(f"{path}.data_flows", "Expected a list of creates, receives, transmits.")
        else:
            clean: list[str] = []
            for j, flow in enumerate(flows):
                text = _text(flow, f"{path}.data_flows[{j}]", errs, max_length=10).lower()
                if text not in DataFlow.values:
                    errs.add(
                        f"{path}.data_flows[{j}]", f"Must be one of: {', '.join(DataFlow.values)}."
                    )
                elif text not in clean:
                    clean.append(text)
            attrs["data_flows"] = clean
    return attrs


def _device(obj: Any, path: str, errs: _Errors) -> Device | None:
    if not isinstance(obj, dict):
        errs.add(path, "Expected a device object.")
        return None
    before = len(errs.errors)
    system = _object(obj.get("system_info"), f"{path}.system_info".lstrip("."), errs) or {}
    osv = _object(obj.get("os_version"), f"{path}.os_version".lstrip("."), errs) or {}
    pre = f"{path}." if path else ""
    agent_id = _text(obj.get("agent_id"), f"{pre}agent_id", errs) or None
    hostname = _text(system.get("hostname"), f"{pre}system_info.hostname", errs).lower()
    hostname = hostname.rstrip(".")
    if not hostname:
        errs.add(f"{pre}system_info.hostname", "This field is required.")
    serial = _text(system.get("hardware_serial"), f"{pre}system_info.hardware_serial", errs)
    if serial.lower() in _JUNK_SERIALS:
        serial = ""
    hardware = {
        key: _text(system.get(key), f"{pre}system_info.{key}", errs)
        for key in ("uuid", "hardware_vendor", "hardware_model", "cpu_brand")
        if system.get(key) is not None
    }
    os_info = {
        key: _text(osv.get(key), f"{pre}os_version.{key}", errs, max_length=200)
        for key in ("name", "version", "major", "minor", "patch", "build", "platform", "arch")
        if osv.get(key) is not None
    }
    macs: list[str] = []
    for i, row in _rows(obj.get("interface_details"), f"{pre}interface_details", errs) or []:
        raw = _text(row.get("mac"), f"{pre}interface_details[{i}].mac", errs, max_length=40)
        mac = normalise_mac(raw) if raw else None
        if mac and mac not in macs:
            macs.append(mac)
    ips: list[str] = []
    for i, row in _rows(obj.get("interface_addresses"), f"{pre}interface_addresses", errs) or []:
        raw = _text(row.get("address"), f"{pre}interface_addresses[{i}].address", errs, 60)
        if not raw:
            continue
        try:
            ip = ipaddress.ip_address(raw.split("%")[0])
        except ValueError:
            errs.add(f"{pre}interface_addresses[{i}].address", "Expected an IP address.")
            continue
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified) and str(ip) not in ips:
            ips.append(str(ip))
    software: dict[str, list[SoftwareRow]] = {}
    for table, kind in SOFTWARE_TABLES.items():
        rows = _rows(obj.get(table), f"{pre}{table}", errs)
        if rows is not None:
            software[kind] = _software(table, rows, f"{pre}{table}", errs)
    updates = None
    rows = _rows(obj.get("pending_updates"), f"{pre}pending_updates", errs)
    if rows is not None:
        updates = _updates(rows, f"{pre}pending_updates", errs)
    install_records = None
    rows = _rows(obj.get("os_install_records"), f"{pre}os_install_records", errs)
    if rows is not None:
        install_records = _install_records(rows, f"{pre}os_install_records", errs)
    attrs_obj = _object(obj.get("patchops"), f"{pre}patchops", errs)
    attributes = _attributes(attrs_obj, f"{pre}patchops", errs) if attrs_obj else {}
    collected_at = _timestamp(obj.get("collected_at"), f"{pre}collected_at", errs)
    reboot_pending = None
    if obj.get("reboot_pending") is not None:
        reboot_pending = _bool(obj.get("reboot_pending"), f"{pre}reboot_pending", errs)
    if len(errs.errors) > before:
        return None
    return Device(
        hostname=hostname[:255],
        agent_id=agent_id,
        serial=serial,
        collected_at=collected_at,
        os=os_info,
        hardware=hardware,
        macs=macs,
        ips=ips,
        software=software,
        pending_updates=updates,
        attributes=attributes,
        install_records=install_records,
        reboot_pending=reboot_pending,
    )


def validate_payloads(data: Any) -> list[Device]:
    """Validate one device object or a list of them; raise PayloadError with every problem."""
    errs = _Errors()
    devices: list[Device] = []
    if isinstance(data, dict):
        device = _device(data, "", errs)
        devices = [device] if device else []
    elif isinstance(data, list):
        if not data:
            errs.add("payload", "The list holds no device.")
        elif len(data) > MAX_DEVICES:
            errs.add("payload", f"At most {MAX_DEVICES} devices per request.")
        else:
            for i, obj in enumerate(data):
                device = _device(obj, f"[{i}]", errs)
                if device:
                    devices.append(device)
    else:
        errs.add("payload", "Expected a device object or a list of device objects.")
    if errs.errors:
        raise PayloadError(errs.errors)
    return devices
