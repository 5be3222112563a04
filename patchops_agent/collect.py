"""Collect this machine into the discovery payload, with the platform's own tools."""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import shutil
import socket
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from patchops_agent.base import (
    COMMAND_TIMEOUT,
    __version__,
    agent_id,
    log,
    now_iso,
    read_text,
    run,
    split_version,
)
from patchops_agent.parsers.errors import ParseError
from patchops_agent.parsers.linux import (
    DPKG_FORMAT,
    RPM_FORMAT,
    parse_apt_list,
    parse_apt_simulation,
    parse_dnf_check_update,
    parse_dnf_updateinfo,
    parse_dpkg_query,
    parse_ip_json,
    parse_os_release,
    parse_rpm_query,
)
from patchops_agent.parsers.macos import (
    parse_brew_versions,
    parse_ifconfig,
    parse_softwareupdate,
    parse_sw_vers,
    parse_system_profiler_apps,
)
from patchops_agent.parsers.osrecords import (
    parse_apt_history,
    parse_dnf_rpm_log,
    parse_dpkg_log,
    parse_install_log,
    parse_softwareupdate_history,
    parse_wu_events_json,
    parse_yum_log,
    since,
)
from patchops_agent.parsers.powershell import (
    windows_payload_from_ps,
    windows_pending_from_ps,
)
from patchops_agent.parsers.systeminfo import parse_systeminfo_csv
from patchops_agent.reboot import restart_pending


def linux_os_version(os_release_path: str = "/etc/os-release") -> dict[str, Any] | None:
    text = read_text(os_release_path) or read_text("/usr/lib/os-release")
    if text is None:
        return None
    release = parse_os_release(text)
    version_id = release.get("VERSION_ID", "")
    os_version: dict[str, Any] = {
        "name": release.get("NAME") or "Linux",
        "version": release.get("VERSION") or version_id,
        "build": release.get("BUILD_ID", ""),
        "platform": release.get("ID", "linux"),
        "platform_like": release.get("ID_LIKE", ""),
        "codename": release.get("VERSION_CODENAME", ""),
        "arch": platform.machine(),
        "kernel_version": platform.release(),
        "pretty_name": release.get("PRETTY_NAME", ""),
        "version_id": version_id,
    }
    os_version.update(split_version(version_id))
    return os_version


def linux_system_info() -> dict[str, Any]:
    dmi = "/sys/class/dmi/id/"
    machine_id = read_text("/etc/machine-id") or read_text("/var/lib/dbus/machine-id")
    product_uuid = read_text(dmi + "product_uuid")
    if not product_uuid and machine_id and re.fullmatch(r"[0-9a-f]{32}", machine_id):
        product_uuid = str(uuid.UUID(machine_id))
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "computer_name": socket.gethostname().split(".")[0],
        "uuid": product_uuid or "",
        "hardware_serial": read_text(dmi + "product_serial") or "",
        "hardware_vendor": read_text(dmi + "sys_vendor") or "",
        "hardware_model": read_text(dmi + "product_name") or "",
        "cpu_logical_cores": os.cpu_count() or 0,
    }
    cpuinfo = read_text("/proc/cpuinfo") or ""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    info["cpu_brand"] = match.group(1).strip() if match else platform.processor()
    meminfo = read_text("/proc/meminfo") or ""
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.MULTILINE)
    if match:
        info["physical_memory"] = int(match.group(1)) * 1024
    return info


def linux_interfaces() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    out = run(["ip", "-j", "addr"])
    if out:
        try:
            return parse_ip_json(out)
        except (ValueError, TypeError, AttributeError):
            pass
    net = Path("/sys/class/net")
    if not net.is_dir():
        return None
    details = [
        {"interface": entry.name, "mac": read_text(entry / "address") or ""}
        for entry in sorted(net.iterdir())
    ]
    return [], details


def debian_packages() -> list[dict[str, Any]] | None:
    out = run(["dpkg-query", "-W", "-f", DPKG_FORMAT])
    if out is None:
        out = run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"])
    return parse_dpkg_query(out) if out is not None else None


def apt_pending() -> list[dict[str, Any]] | None:
    env = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    out = run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade"], env=env)
    if out is not None:
        return parse_apt_simulation(out)
    out = run(["apt", "list", "--upgradable"], env=env)
    return parse_apt_list(out) if out is not None else None


def rpm_packages() -> list[dict[str, Any]] | None:
    out = run(["rpm", "-qa", "--queryformat", RPM_FORMAT])
    return parse_rpm_query(out) if out is not None else None


def dnf_pending() -> list[dict[str, Any]] | None:
    tool = "dnf" if shutil.which("dnf") else "yum"
    out = run([tool, "-q", "check-update"], ok_codes=(0, 100))
    if out is None:
        return None
    updates = parse_dnf_check_update(out)
    security = run([tool, "-q", "updateinfo", "list", "--security"]) or ""
    advisories = parse_dnf_updateinfo(security)
    for update in updates:
        if update["name"] in advisories:
            update["advisory"], update["severity"] = advisories[update["name"]]
            update["security"] = True
    return updates


def collect_macos(payload: dict[str, Any]) -> None:
    out = run(["sw_vers"])
    if out:
        payload["os_version"] = parse_sw_vers(out)
    out = run(["system_profiler", "SPHardwareDataType", "-json"])
    if out:
        try:
            hardware = json.loads(out).get("SPHardwareDataType", [{}])[0]
            payload["system_info"].update(
                uuid=hardware.get("platform_UUID", ""),
                hardware_serial=hardware.get("serial_number", ""),
                hardware_vendor="Apple Inc.",
                hardware_model=hardware.get("machine_model", ""),
                cpu_brand=hardware.get("chip_type") or hardware.get("cpu_type", ""),
            )
        except (ValueError, IndexError, AttributeError):
            pass
    out = run(["system_profiler", "SPApplicationsDataType", "-json"], timeout=600)
    if out:
        try:
            payload["apps"] = parse_system_profiler_apps(out)
        except (ValueError, AttributeError):
            log("could not read the application list from system_profiler")
    out = run(["brew", "list", "--versions"])
    if out is not None:
        payload["homebrew_packages"] = parse_brew_versions(out)
    out = run(["softwareupdate", "-l"], timeout=900)
    if out is not None:
        payload["pending_updates"] = parse_softwareupdate(out)
    out = run(["ifconfig"])
    if out:
        payload["interface_addresses"], payload["interface_details"] = parse_ifconfig(out)


_PS_INVENTORY = r"""
[Console]::OutputEncoding = [Text.Encoding]::UTF8
$ErrorActionPreference = 'SilentlyContinue'
$os = Get-CimInstance Win32_OperatingSystem
$cs = Get-CimInstance Win32_ComputerSystem
$csp = Get-CimInstance Win32_ComputerSystemProduct
$bios = Get-CimInstance Win32_BIOS
$cpu = Get-CimInstance Win32_Processor | Select-Object -First 1
$cv = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$hotfixes = @(Get-HotFix | ForEach-Object { [pscustomobject]@{
  hotfix_id = $_.HotFixID; description = $_.Description; installed_by = $_.InstalledBy;
  installed_on = $(if ($_.InstalledOn) { $_.InstalledOn.ToString('yyyy-MM-dd') } else { '' }) } })
$keys = 'HKLM:\Software\Microsoft\Windows\CurrentVersion\Uninstall\*',
        'HKLM:\Software\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*',
        'HKCU:\Software\Microsoft\Windows\CurrentVersion\Uninstall\*'
$programs = @(Get-ItemProperty $keys |
  Where-Object { $_.DisplayName -and -not $_.SystemComponent } |
  ForEach-Object { [pscustomobject]@{ name = $_.DisplayName; version = "$($_.DisplayVersion)";
    publisher = "$($_.Publisher)"; install_date = "$($_.InstallDate)";
    identifying_number = $_.PSChildName } })
$adapters = @(Get-CimInstance Win32_NetworkAdapterConfiguration -Filter 'IPEnabled = True')
[pscustomobject]@{
  os = [pscustomobject]@{ caption = $os.Caption; version = $os.Version; build = $os.BuildNumber;
    arch = $os.OSArchitecture; display_version = "$($cv.DisplayVersion)"; ubr = "$($cv.UBR)" }
  system = [pscustomobject]@{ hostname = $env:COMPUTERNAME; uuid = $csp.UUID;
    serial = $bios.SerialNumber; vendor = $cs.Manufacturer; model = $cs.Model; cpu = $cpu.Name;
    memory = $cs.TotalPhysicalMemory }
  patches = $hotfixes
  programs = $programs
  adapters = @($adapters | ForEach-Object { [pscustomobject]@{ interface = $_.Description;
    mac = $_.MACAddress; addresses = @($_.IPAddress); masks = @($_.IPSubnet) } })
} | ConvertTo-Json -Depth 5 -Compress
"""


_PS_PENDING = r"""
[Console]::OutputEncoding = [Text.Encoding]::UTF8
$ErrorActionPreference = 'Stop'
$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
$result = $searcher.Search('IsInstalled=0 and IsHidden=0')
@($result.Updates | ForEach-Object { [pscustomobject]@{ title = $_.Title;
  kbs = @($_.KBArticleIDs); severity = "$($_.MsrcSeverity)"; reboot = [bool]$_.RebootRequired;
  cves = @($_.CveIDs) } }) | ConvertTo-Json -Depth 4 -Compress
"""


def powershell(script: str, timeout: int = COMMAND_TIMEOUT) -> Any:
    exe = shutil.which("powershell") or shutil.which("pwsh")
    if exe is None:
        return None
    out = run([exe, "-NoProfile", "-NonInteractive", "-Command", script], timeout=timeout)
    if not out or not out.strip():
        return None
    try:
        return json.loads(out)
    except ValueError:
        return None


def collect_windows(payload: dict[str, Any]) -> None:
    data = powershell(_PS_INVENTORY)
    if isinstance(data, dict):
        windows_payload_from_ps(data, payload)
    else:
        out = run(["systeminfo", "/FO", "CSV"])
        if out:
            found = parse_systeminfo_csv(out)
            if found:
                payload["system_info"]["hostname"] = (
                    found["hostname"] or payload["system_info"]["hostname"]
                )
                payload["os_version"] = found["os_version"]
                payload["patches"] = found["patches"]
    pending = powershell(_PS_PENDING, timeout=900)
    if pending is not None:
        payload["pending_updates"] = windows_pending_from_ps(pending)


# --- the OS's own install records since the last run -----------------------------------------

RECORDS_MARK = "install-records-since"

# Records overlap the previous run by a day (a clock set back, a push that was lost): the
# portal keeps one row per record id, so a record sent twice is stored once.
RECORDS_OVERLAP = timedelta(days=1)

MAX_RECORDS = 5000


def read_records_mark(state_dir: Path) -> datetime | None:
    """When the last pushed inventory was collected (its install records were sent)."""
    text = read_text(state_dir / RECORDS_MARK)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def write_records_mark(state_dir: Path, collected_at: str) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / RECORDS_MARK).write_text(collected_at + "\n", encoding="utf-8")
    except OSError as exc:
        log(f"cannot keep the install-record mark in {state_dir} ({exc.strerror})")


def read_log_family(path: str) -> list[str]:
    """A log and its rotations, oldest first: ``path.N.gz`` … ``path.1``, ``path``."""
    base = Path(path)
    texts: list[tuple[int, str]] = []
    folder = base.parent
    if not folder.is_dir():
        return []
    for entry in folder.iterdir():
        name = entry.name
        if name != base.name and not name.startswith(base.name + "."):
            continue
        suffix = name[len(base.name) :].lstrip(".")
        number = 0
        if suffix:
            first = suffix.split(".")[0]
            if not first.isdigit():
                continue
            number = int(first)
        try:
            if name.endswith(".gz"):
                with gzip.open(entry, "rt", encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
            else:
                text = entry.read_text(encoding="utf-8", errors="replace")
        except (OSError, EOFError, ValueError):
            continue
        texts.append((number, text))
    return [text for _, text in sorted(texts, key=lambda item: -item[0])]


def _parsed(parser: Any, texts: list[str], label: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for text in texts:
        try:
            records.extend(parser(text))
        except ParseError as exc:
            log(f"skipping {label}: {exc}")
    return records


_PS_UPDATE_EVENTS = r"""
[Console]::OutputEncoding = [Text.Encoding]::UTF8
$ErrorActionPreference = 'Stop'
$filter = @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-WindowsUpdateClient';
  Id = 19, 20, 43 }
if ('{since}') { $filter.StartTime = [datetime]::Parse('{since}').ToLocalTime() }
try { $events = @(Get-WinEvent -FilterHashtable $filter -MaxEvents {limit}) }
catch [Exception] {
  if ($_.FullyQualifiedErrorId -match 'NoMatchingEventsFound') { $events = @() } else { throw }
}
@($events | ForEach-Object { [pscustomobject]@{ Id = $_.Id; RecordId = $_.RecordId;
  ProviderName = $_.ProviderName; TimeCreated = $_.TimeCreated.ToUniversalTime().ToString('o');
  Properties = @($_.Properties | ForEach-Object {
    [pscustomobject]@{ Value = "$($_.Value)" } }) } }) |
  ConvertTo-Json -Depth 4 -Compress
"""


def install_records(
    system: str, mark: datetime | None, *, roots: dict[str, str] | None = None
) -> list[dict[str, Any]] | None:
    """The OS's install records since ``mark`` (less the overlap), or None when this platform
    keeps none that the agent can read. ``roots`` replaces the log paths (tests)."""
    paths = {
        "apt_history": "/var/log/apt/history.log",
        "dpkg_log": "/var/log/dpkg.log",
        "dnf_rpm_log": "/var/log/dnf.rpm.log",
        "yum_log": "/var/log/yum.log",
        "install_log": "/var/log/install.log",
        **(roots or {}),
    }
    start = mark - RECORDS_OVERLAP if mark else None
    records: list[dict[str, Any]] = []
    found_any = False
    if system == "Linux":
        apt = read_log_family(paths["apt_history"])
        if apt:
            found_any = True
            records.extend(_parsed(parse_apt_history, apt, "apt history"))
        else:
            dpkg = read_log_family(paths["dpkg_log"])
            if dpkg:
                found_any = True
                records.extend(_parsed(parse_dpkg_log, dpkg, "dpkg.log"))
        dnf = read_log_family(paths["dnf_rpm_log"])
        if dnf:
            found_any = True
            records.extend(_parsed(parse_dnf_rpm_log, dnf, "dnf.rpm.log"))
        elif not apt:
            yum = read_log_family(paths["yum_log"])
            if yum:
                found_any = True
                records.extend(_parsed(parse_yum_log, yum, "yum.log"))
    elif system == "Darwin":
        out = run(["softwareupdate", "--history", "--all"]) or run(["softwareupdate", "--history"])
        if out:
            found_any = True
            records.extend(_parsed(parse_softwareupdate_history, [out], "softwareupdate history"))
        log_texts = read_log_family(paths["install_log"])
        if log_texts:
            found_any = True
            records.extend(_parsed(parse_install_log, log_texts, "install.log"))
    elif system == "Windows":
        script = _PS_UPDATE_EVENTS.replace("{since}", start.isoformat() if start else "").replace(
            "{limit}", str(MAX_RECORDS)
        )
        exe = shutil.which("powershell") or shutil.which("pwsh")
        out = run([exe, "-NoProfile", "-NonInteractive", "-Command", script]) if exe else None
        if out is not None:
            found_any = True
            if out.strip():
                records.extend(_parsed(parse_wu_events_json, [out], "Windows Update events"))
    if not found_any:
        return None
    kept = since(records, start)
    kept.sort(key=lambda r: r["occurred_at"])
    return kept[-MAX_RECORDS:]


def collect(state_dir: Path, *, pending: bool = True) -> dict[str, Any]:
    """The discovery payload for this machine."""
    system = platform.system()
    payload: dict[str, Any] = {
        "agent_id": None,
        "collected_at": now_iso(),
        "agent_version": __version__,
        "system_info": {"hostname": socket.gethostname(), "computer_name": platform.node()},
    }
    if system == "Linux":
        payload["system_info"] = linux_system_info()
        os_version = linux_os_version()
        if os_version:
            payload["os_version"] = os_version
        interfaces = linux_interfaces()
        if interfaces:
            payload["interface_addresses"], payload["interface_details"] = interfaces
        debs = debian_packages()
        if debs is not None:
            payload["deb_packages"] = debs
        # rpm is sometimes installed on Debian too, with an empty database: ask it only
        # where dpkg is absent, so an empty rpm table never claims "nothing installed".
        rpms = rpm_packages() if debs is None else None
        if rpms is not None:
            payload["rpm_packages"] = rpms
        if pending:
            updates: list[dict[str, Any]] | None = None
            if debs is not None:
                updates = apt_pending()
            elif rpms is not None:
                updates = dnf_pending()
            if updates is not None:
                payload["pending_updates"] = updates
    elif system == "Darwin":
        collect_macos(payload)
    elif system == "Windows":
        collect_windows(payload)
    else:
        payload["os_version"] = {
            "name": system,
            "version": platform.release(),
            "platform": system.casefold(),
            "arch": platform.machine(),
        }
    payload["reboot_pending"] = restart_pending(system)
    records = install_records(system, read_records_mark(state_dir))
    if records is not None:
        payload["os_install_records"] = records
    payload["agent_id"] = agent_id(state_dir, payload["system_info"])
    return payload
