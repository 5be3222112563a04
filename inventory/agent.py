#!/usr/bin/env python3
"""patchops-agent: report this machine to PatchOps and run the patch jobs PatchOps gives it.

Standard library only, so the same file runs as the package's console script and as a single
file copied to a device (``python3 agent.py collect --dry-run``).

Commands:

``collect`` (the default)
    Gather the machine into the discovery payload (osquery table names: ``system_info``,
    ``os_version``, ``interface_addresses``, ``interface_details``, ``deb_packages``,
    ``rpm_packages``, ``programs``, ``patches``, ``apps``, ``homebrew_packages`` and
    ``pending_updates``) and push it to ``<URL>api/v1/discovery/`` with the agent token, or print
    it with ``--dry-run``. A tool that is missing leaves its table out: a missing table means
    "not collected", never "nothing installed".

``jobs``
    Fetch the jobs queued for this agent from ``<URL>api/v1/agent-jobs/?agent_id=<id>``, run each
    with the platform's own package tool (apt-get, dnf, softwareupdate, winget / Windows Update),
    simulate it with ``--dry-run``, report each result to ``<URL>api/v1/agent-jobs/<id>/result/``
    and, after a real install, push a fresh inventory so the change can be verified.

Exit status: 0 done, 1 the server or the network failed (or a job failed), 2 bad usage or
configuration. Runs on Python 3.7 and later.
"""

from __future__ import annotations

import sys

# Run as a file from inside the project, this folder is first on sys.path and holds modules named
# like standard-library ones (selectors.py): drop it so the standard library is what is imported.
if __name__ == "__main__" and sys.path and sys.path[0].endswith("inventory"):
    sys.path.pop(0)

import argparse
import ipaddress
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__version__ = "1.0.0"

EXIT_OK = 0
EXIT_REMOTE = 1
EXIT_USAGE = 2

STATE_ENV = "PATCHOPS_AGENT_STATE_DIR"
TOKEN_ENV = "PATCHOPS_TOKEN"
URL_ENV = "PATCHOPS_URL"
COMMAND_TIMEOUT = 300
INSTALL_TIMEOUT = 3600
# Devices may run an older Python than the portal: keep this file valid on 3.7 and later.
UTC = timezone.utc  # noqa: UP017 (datetime.UTC is 3.11+)
_AGENT_NAMESPACE = uuid.UUID("6f1c2a52-6b0e-4d1e-9f5e-3b1d8a7c9e10")


class AgentError(Exception):
    """A failure reported to the user with a clear message and an exit status."""

    def __init__(self, message: str, status: int = EXIT_REMOTE) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- helpers


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def log(message: str) -> None:
    print(f"patchops-agent: {message}", file=sys.stderr)


def run(
    args: list[str],
    *,
    ok_codes: tuple[int, ...] = (0,),
    timeout: int = COMMAND_TIMEOUT,
    env: dict[str, str] | None = None,
) -> str | None:
    """Run a command and return its standard output, or None when the tool is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode not in ok_codes:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def read_text(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def split_version(version: str | None) -> dict[str, int]:
    parts = re.findall(r"\d+", version or "")
    keys = ("major", "minor", "patch")
    return {keys[index]: int(value) for index, value in enumerate(parts[:3])}


# --------------------------------------------------------------------------- identity


def default_state_dir() -> Path:
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    if os.name == "nt":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "PatchOps" / "agent"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/patchops-agent")
    return Path.home() / ".patchops-agent"


def agent_id(state_dir: Path, system_info: dict[str, Any]) -> str:
    """The stable id of this device: read from the state file, created on first run.

    When the state file cannot be written the id is derived from the machine's own UUID, so it
    still stays the same from one run to the next.
    """
    path = state_dir / "agent-id"
    existing = read_text(path)
    if existing and re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", existing):
        return existing
    machine = system_info.get("uuid") or system_info.get("hostname") or ""
    new_id = str(uuid.uuid5(_AGENT_NAMESPACE, machine)) if machine else str(uuid.uuid4())
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(new_id + "\n", encoding="utf-8")
        if os.name != "nt":
            path.chmod(0o600)
    except OSError as exc:
        log(f"cannot keep the agent id in {path} ({exc.strerror}); using one derived from the host")
    return new_id


# --------------------------------------------------------------------------- Linux


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z0-9_]+)=(.*)$", line.strip())
        if match:
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[match.group(1)] = value.replace('\\"', '"')
    return values


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


def _mask(family: str, prefix: int) -> str:
    network = ipaddress.ip_network(f"{'0.0.0.0' if family == 'inet' else '::'}/{prefix}")
    return str(network.netmask)


def parse_ip_json(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``ip -j addr`` → (interface_addresses, interface_details)."""
    addresses, details = [], []
    for link in json.loads(text):
        name = link.get("ifname", "")
        details.append(
            {"interface": name, "mac": link.get("address", ""), "type": link.get("link_type", "")}
        )
        for addr in link.get("addr_info", []):
            family, local = addr.get("family"), addr.get("local")
            if family not in ("inet", "inet6") or not local:
                continue
            prefix = int(addr.get("prefixlen", 32 if family == "inet" else 128))
            addresses.append(
                {
                    "interface": name,
                    "address": local,
                    "mask": _mask(family, prefix),
                    "type": "ipv4" if family == "inet" else "ipv6",
                }
            )
    return addresses, details


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


DPKG_FORMAT = (
    "${binary:Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${db:Status-Abbrev}\\n"
)


def parse_dpkg_query(text: str) -> list[dict[str, Any]]:
    """``dpkg-query -W -f`` with DPKG_FORMAT → deb_packages (installed packages only)."""
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1]:
            continue
        if len(fields) >= 5 and not fields[4].startswith(("ii", "hi")):
            continue
        name = fields[0].split(":")[0]
        version = fields[1]
        upstream = version.split(":", 1)[-1]
        packages.append(
            {
                "name": name,
                "version": version,
                "arch": fields[2] if len(fields) > 2 else "",
                "source": fields[3] if len(fields) > 3 else "",
                "revision": upstream.rsplit("-", 1)[1] if "-" in upstream else "",
                "status": "install ok installed",
            }
        )
    return packages


def debian_packages() -> list[dict[str, Any]] | None:
    out = run(["dpkg-query", "-W", "-f", DPKG_FORMAT])
    if out is None:
        out = run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"])
    return parse_dpkg_query(out) if out is not None else None


_APT_INST_RE = re.compile(r"^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+) ([^\[\)]*)(?:\[([^\]]+)\])?\)")
_REBOOT_PACKAGES = re.compile(r"^(linux-(image|modules|headers)|libc6$|systemd$|dbus$|kernel)")


def parse_apt_simulation(text: str) -> list[dict[str, Any]]:
    """``apt-get -s upgrade`` ``Inst`` lines → pending_updates."""
    updates = []
    for line in text.splitlines():
        match = _APT_INST_RE.match(line)
        if not match:
            continue
        name, installed, available, origins = match.group(1, 2, 3, 4)
        security = "security" in origins.casefold()
        updates.append(
            {
                "name": name,
                "installed_version": installed or "",
                "available_version": available,
                "source": "apt",
                "advisory": "",
                "cves": [],
                "severity": "unknown",
                "security": security,
                "origin": origins.strip().rstrip(","),
                "reboot_required": bool(_REBOOT_PACKAGES.match(name)),
            }
        )
    return updates


_APT_LIST_RE = re.compile(r"^(\S+?)/(\S+) (\S+) (\S+)(?: \[upgradable from: ([^\]]+)\])?")


def parse_apt_list(text: str) -> list[dict[str, Any]]:
    """``apt list --upgradable`` → pending_updates."""
    updates = []
    for line in text.splitlines():
        match = _APT_LIST_RE.match(line.strip())
        if not match or "upgradable from" not in line:
            continue
        name, suites, available, _arch, installed = match.groups()
        updates.append(
            {
                "name": name,
                "installed_version": installed or "",
                "available_version": available,
                "source": "apt",
                "advisory": "",
                "cves": [],
                "severity": "unknown",
                "security": "security" in suites,
                "origin": suites,
                "reboot_required": bool(_REBOOT_PACKAGES.match(name)),
            }
        )
    return updates


def apt_pending() -> list[dict[str, Any]] | None:
    env = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    out = run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade"], env=env)
    if out is not None:
        return parse_apt_simulation(out)
    out = run(["apt", "list", "--upgradable"], env=env)
    return parse_apt_list(out) if out is not None else None


RPM_FORMAT = "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\t%{SOURCERPM}\\n"


def parse_rpm_query(text: str) -> list[dict[str, Any]]:
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 5 or fields[0].startswith("gpg-pubkey"):
            continue
        epoch = "" if fields[3] in ("(none)", "") else fields[3]
        packages.append(
            {
                "name": fields[0],
                "version": fields[1],
                "release": fields[2],
                "epoch": epoch,
                "arch": fields[4],
                "source": fields[5] if len(fields) > 5 and fields[5] != "(none)" else "",
            }
        )
    return packages


_DNF_LINE_RE = re.compile(r"^(\S+)\.(\w+)\s+(\S+)\s+(\S+)\s*$")
_RH_SEVERITY = {
    "critical": "critical",
    "important": "high",
    "moderate": "medium",
    "low": "low",
}


def parse_dnf_check_update(text: str) -> list[dict[str, Any]]:
    updates = []
    for line in text.splitlines():
        if line.startswith(("Obsoleting", "Last metadata", "Security:")):
            if line.startswith("Obsoleting"):
                break
            continue
        match = _DNF_LINE_RE.match(line)
        if not match:
            continue
        name, _arch, available, repo = match.groups()
        updates.append(
            {
                "name": name,
                "installed_version": "",
                "available_version": available,
                "source": "dnf",
                "advisory": "",
                "cves": [],
                "severity": "unknown",
                "security": False,
                "origin": repo,
                "reboot_required": bool(_REBOOT_PACKAGES.match(name)),
            }
        )
    return updates


_UPDATEINFO_RE = re.compile(r"^(\S+)\s+(\w+)/Sec\.\s+(\S+)\s*$")
_NEVRA_RE = re.compile(r"^(.+)-(?:\d+:)?[^-]+-[^-]+\.\w+$")


def parse_dnf_updateinfo(text: str) -> dict[str, tuple[str, str]]:
    """``dnf updateinfo list --security`` → {package name: (advisory, severity)}."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        match = _UPDATEINFO_RE.match(line.strip())
        if not match:
            continue
        advisory, severity, nevra = match.groups()
        name_match = _NEVRA_RE.match(nevra)
        if name_match:
            found[name_match.group(1)] = (
                advisory,
                _RH_SEVERITY.get(severity.casefold(), "unknown"),
            )
    return found


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


# --------------------------------------------------------------------------- macOS


def parse_sw_vers(text: str) -> dict[str, Any]:
    values = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in text.splitlines())
        if value
    )
    version = values.get("ProductVersion", "")
    os_version: dict[str, Any] = {
        "name": values.get("ProductName", "macOS"),
        "version": version,
        "build": values.get("BuildVersion", ""),
        "platform": "darwin",
        "arch": platform.machine(),
    }
    os_version.update(split_version(version))
    return os_version


def parse_system_profiler_apps(text: str) -> list[dict[str, Any]]:
    data = json.loads(text)
    apps = []
    for item in data.get("SPApplicationsDataType", []):
        path = item.get("path", "")
        apps.append(
            {
                "name": item.get("_name", ""),
                "path": path,
                "bundle_identifier": item.get("bundle_identifier", ""),
                "bundle_short_version": item.get("version", ""),
                "bundle_version": item.get("version", ""),
                "obtained_from": item.get("obtained_from", ""),
                "last_modified": item.get("lastModified", ""),
            }
        )
    return apps


def parse_softwareupdate(text: str) -> list[dict[str, Any]]:
    """``softwareupdate -l`` (macOS 10.15 and later) → pending_updates."""
    updates = []
    label = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("* Label:"):
            label = stripped.split(":", 1)[1].strip()
            continue
        if label and stripped.startswith("Title:"):
            fields = dict(
                (key.strip(), value.strip())
                for key, _, value in (part.partition(":") for part in stripped.split(","))
            )
            updates.append(
                {
                    "name": label,
                    "title": fields.get("Title", label),
                    "installed_version": "",
                    "available_version": fields.get("Version", ""),
                    "source": "softwareupdate",
                    "advisory": "",
                    "cves": [],
                    "severity": "unknown",
                    "security": "security" in label.casefold(),
                    "reboot_required": fields.get("Action", "").casefold() == "restart",
                }
            )
            label = None
    return updates


def parse_brew_versions(text: str) -> list[dict[str, Any]]:
    packages = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            packages.append({"name": parts[0], "version": parts[-1]})
    return packages


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


def parse_ifconfig(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    addresses, details, name = [], [], ""
    for line in text.splitlines():
        header = re.match(r"^(\S+):\s+flags=", line)
        if header:
            name = header.group(1)
            details.append({"interface": name, "mac": ""})
            continue
        stripped = line.strip()
        if stripped.startswith("ether ") and details:
            details[-1]["mac"] = stripped.split()[1]
        match = re.match(r"^inet (\S+) netmask (0x[0-9a-f]+)", stripped)
        if match:
            mask = str(ipaddress.IPv4Address(int(match.group(2), 16)))
            addresses.append({"interface": name, "address": match.group(1), "mask": mask})
        match = re.match(r"^inet6 (\S+?)(?:%\S+)? prefixlen (\d+)", stripped)
        if match:
            addresses.append(
                {
                    "interface": name,
                    "address": match.group(1),
                    "mask": _mask("inet6", int(match.group(2))),
                }
            )
    return addresses, details


# --------------------------------------------------------------------------- Windows

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

_MSRC_SEVERITY = {"critical": "critical", "important": "high", "moderate": "medium", "low": "low"}


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def windows_payload_from_ps(data: dict[str, Any], payload: dict[str, Any]) -> None:
    """Fill the payload from the JSON the inventory PowerShell script prints."""
    os_info = data.get("os") or {}
    system = data.get("system") or {}
    version = os_info.get("version") or ""
    os_version: dict[str, Any] = {
        "name": os_info.get("caption") or "Microsoft Windows",
        "version": version,
        "build": str(os_info.get("build") or ""),
        "platform": "windows",
        "arch": os_info.get("arch") or "",
    }
    if os_info.get("display_version"):
        os_version["display_version"] = os_info["display_version"]
    if os_info.get("ubr"):
        os_version["revision"] = os_info["ubr"]
    os_version.update(split_version(version))
    payload["os_version"] = os_version
    payload["system_info"].update(
        hostname=system.get("hostname") or payload["system_info"]["hostname"],
        uuid=system.get("uuid") or "",
        hardware_serial=system.get("serial") or "",
        hardware_vendor=system.get("vendor") or "",
        hardware_model=system.get("model") or "",
        cpu_brand=system.get("cpu") or "",
    )
    if system.get("memory"):
        payload["system_info"]["physical_memory"] = int(system["memory"])
    payload["patches"] = [
        {
            key: patch.get(key) or ""
            for key in ("hotfix_id", "description", "installed_on", "installed_by")
        }
        for patch in _as_list(data.get("patches"))
        if patch and patch.get("hotfix_id")
    ]
    payload["programs"] = [
        {
            key: program.get(key) or ""
            for key in ("name", "version", "publisher", "install_date", "identifying_number")
        }
        for program in _as_list(data.get("programs"))
        if program and program.get("name")
    ]
    addresses, details = [], []
    for adapter in _as_list(data.get("adapters")):
        details.append({"interface": adapter.get("interface", ""), "mac": adapter.get("mac") or ""})
        masks = _as_list(adapter.get("masks"))
        for index, address in enumerate(_as_list(adapter.get("addresses"))):
            mask = masks[index] if index < len(masks) else ""
            if mask.isdigit():
                mask = _mask("inet6", int(mask))
            addresses.append(
                {"interface": adapter.get("interface", ""), "address": address, "mask": mask}
            )
    payload["interface_addresses"], payload["interface_details"] = addresses, details


def windows_pending_from_ps(data: Any) -> list[dict[str, Any]]:
    updates = []
    for item in _as_list(data):
        kbs = [f"KB{kb}" for kb in _as_list(item.get("kbs")) if kb]
        updates.append(
            {
                "name": item.get("title", ""),
                "installed_version": "",
                "available_version": "",
                "source": "windows_update",
                "advisory": kbs[0] if kbs else "",
                "cves": [cve for cve in _as_list(item.get("cves")) if cve],
                "severity": _MSRC_SEVERITY.get((item.get("severity") or "").casefold(), "unknown"),
                "reboot_required": bool(item.get("reboot")),
            }
        )
    return updates


def parse_systeminfo_csv(text: str) -> dict[str, Any]:
    """``systeminfo /FO CSV`` (English headings) → a partial payload, used without PowerShell."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        return {}
    record = {name: rows[1][index] for index, name in enumerate(rows[0][: len(rows[1])])}
    version = record.get("OS Version", "")
    number = re.search(r"\d+\.\d+\.\d+", version)
    os_version: dict[str, Any] = {
        "name": record.get("OS Name", "Microsoft Windows"),
        "version": number.group(0) if number else version,
        "build": number.group(0).rsplit(".", 1)[1] if number else "",
        "platform": "windows",
    }
    os_version.update(split_version(os_version["version"]))
    kbs = re.findall(r"KB\d+", record.get("Hotfix(s)", ""))
    return {
        "hostname": record.get("Host Name", ""),
        "os_version": os_version,
        "patches": [
            {"hotfix_id": kb, "description": "", "installed_on": "", "installed_by": ""}
            for kb in kbs
        ],
    }


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


# --------------------------------------------------------------------------- collect


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
    payload["agent_id"] = agent_id(state_dir, payload["system_info"])
    return payload


# --------------------------------------------------------------------------- HTTP


def base_url(url: str | None) -> str:
    if not url:
        raise AgentError(
            "no server URL: give --url (e.g. https://portal/clients/acme/)", EXIT_USAGE
        )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AgentError(f"bad --url {url!r}: expected http(s)://host/clients/<slug>/", EXIT_USAGE)
    return url if url.endswith("/") else url + "/"


def request_json(method: str, url: str, token: str, body: Any = None, timeout: float = 60) -> Any:
    """Send a JSON request with the agent token; AgentError on HTTP errors or network failure."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": f"patchops-agent/{__version__}",
    }
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        hint = {
            401: " (the token is missing, wrong or revoked)",
            403: " (the token may not do this: an agent token is needed)",
            404: " (check the client slug in --url)",
            413: " (the payload is too large)",
        }.get(exc.code, "")
        raise AgentError(f"{method} {url} failed: HTTP {exc.code}{hint}{detail}") from None
    except urllib.error.URLError as exc:
        raise AgentError(f"cannot reach {url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise AgentError(f"cannot reach {url}: {exc}") from None
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise AgentError(f"{method} {url}: the server did not answer JSON") from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()[:2000]
    except OSError:
        return ""
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", errors="replace").strip()
        return f": {text[:200]}" if text else ""
    if isinstance(body, dict) and "detail" in body:
        return f": {body['detail']}"
    return f": {json.dumps(body)[:300]}"


def push(payload: dict[str, Any], base: str, token: str, timeout: float) -> Any:
    return request_json("POST", base + "api/v1/discovery/", token, payload, timeout)


# --------------------------------------------------------------------------- jobs

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._:~@/\-]{0,200}$")
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9][^\x00-\x1f]{0,200}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def package_tool() -> str | None:
    system = platform.system()
    if system == "Linux":
        if shutil.which("apt-get"):
            return "apt"
        if shutil.which("dnf") or shutil.which("yum"):
            return "dnf"
    if system == "Darwin" and shutil.which("softwareupdate"):
        return "softwareupdate"
    if system == "Windows":
        return "windows"
    return None


def job_command(tool: str, action: str, package: dict[str, Any], dry_run: bool) -> list[str]:
    """The command that applies one package of a job (or simulates it)."""
    name = str(package.get("name") or "")
    version = package.get("version") or None  # the server sends "" when it knows no version
    pattern = _SAFE_LABEL if tool in ("softwareupdate", "windows") else _SAFE_NAME
    if not pattern.match(name) or (version is not None and not _SAFE_NAME.match(str(version))):
        raise ValueError(f"refusing unsafe package name or version {name!r} {version!r}")
    if tool == "apt":
        if action == "rollback" and not version:
            raise ValueError(f"rolling back {name} with apt needs the version to return to")
        spec = f"{name}={version}" if version else name
        command = ["apt-get", "-s" if dry_run else "-y", "install", "--no-install-recommends"]
        if action == "rollback":
            command.append("--allow-downgrades")
        return command + [spec]
    if tool == "dnf":
        exe = "dnf" if shutil.which("dnf") else "yum"
        spec = f"{name}-{version}" if version else name
        verb = "downgrade" if action == "rollback" else "install"
        return [exe, verb, "--assumeno" if dry_run else "-y", spec]
    if tool == "softwareupdate":
        if action == "rollback":
            raise ValueError("macOS updates cannot be rolled back with softwareupdate")
        return ["softwareupdate", "--list"] if dry_run else ["softwareupdate", "-i", name]
    if tool == "windows":
        kb = re.fullmatch(r"KB(\d+)", package.get("advisory") or name, re.IGNORECASE)
        if kb:
            number = kb.group(1)
            if action == "rollback":
                return ["wusa.exe", "/uninstall", f"/kb:{number}", "/quiet", "/norestart"]
            return _windows_update_command(number, dry_run)
        if action == "rollback" and not version:
            raise ValueError(f"rolling back {name} with winget needs the version to return to")
        command = [
            "winget",
            "upgrade" if action == "install" else "install",
            "--id",
            name,
            "--exact",
        ]
        if version:
            command += ["--version", str(version)]
        command += ["--silent", "--accept-package-agreements", "--accept-source-agreements"]
        return ["winget", "show", "--id", name, "--exact"] if dry_run else command
    raise ValueError(f"no package tool for {tool}")


def _windows_update_command(kb: str, dry_run: bool) -> list[str]:
    script = (
        "$ErrorActionPreference='Stop';"
        "$s=New-Object -ComObject Microsoft.Update.Session;"
        "$r=$s.CreateUpdateSearcher().Search('IsInstalled=0');"
        f"$u=@($r.Updates|Where-Object {{$_.KBArticleIDs -contains '{kb}'}});"
        f"if($u.Count -eq 0){{Write-Error 'KB{kb} is not offered to this machine'}};"
    )
    if not dry_run:
        script += (
            "$c=New-Object -ComObject Microsoft.Update.UpdateColl;$u|%{$c.Add($_)|Out-Null};"
            "$d=$s.CreateUpdateDownloader();$d.Updates=$c;$d.Download()|Out-Null;"
            "$i=$s.CreateUpdateInstaller();$i.Updates=$c;$res=$i.Install();"
            "if($res.ResultCode -ne 2){Write-Error ('install result '+$res.ResultCode)}"
        )
    exe = shutil.which("powershell") or "powershell"
    return [exe, "-NoProfile", "-NonInteractive", "-Command", script]


def snapshot_command(dry_run: bool) -> list[str] | None:
    system = platform.system()
    if system == "Windows":
        script = (
            "Checkpoint-Computer -Description 'PatchOps pre-patch'"
            " -RestorePointType MODIFY_SETTINGS"
        )
        return None if dry_run else ["powershell", "-NoProfile", "-Command", script]
    if system == "Darwin":
        return None if dry_run else ["tmutil", "localsnapshot"]
    if shutil.which("snapper"):
        return None if dry_run else ["snapper", "create", "--description", "PatchOps pre-patch"]
    if shutil.which("timeshift"):
        return None if dry_run else ["timeshift", "--create", "--comments", "PatchOps pre-patch"]
    raise ValueError(
        "no snapshot tool on this machine (snapper, timeshift, tmutil or System Restore)"
    )


def _run_logged(command: list[str], log_lines: list[str], timeout: int) -> tuple[bool, str]:
    log_lines.append("$ " + " ".join(command))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        message = f"{command[0]} is not installed"
        log_lines.append(message)
        return False, message
    except subprocess.TimeoutExpired:
        message = f"{command[0]} did not finish within {timeout} s"
        log_lines.append(message)
        return False, message
    output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
    log_lines.append(output.rstrip()[-4000:])
    ok = done.returncode == 0
    if not ok and "--assumeno" in command and "Operation aborted" in output:
        ok = True  # dnf --assumeno answers "no" on purpose and exits 1
    lines = [line for line in output.strip().splitlines() if line.strip()]
    message = (lines[-1] if lines else "")[:300]
    if not ok:
        message = f"exit {done.returncode}: {message}"
    return ok, message


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_job(job: dict[str, Any], agent: str, *, dry_run: bool) -> dict[str, Any]:
    """Run one job and return the result body the server expects."""
    started = now_iso()
    action = job.get("action")
    packages = [p for p in _as_list(job.get("packages")) if isinstance(p, dict)]
    log_lines: list[str] = [f"job {job.get('id')} action={action} dry_run={dry_run}"]
    results: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    not_after = _parse_time(job.get("not_after"))
    tool = package_tool()

    def finish(status: str) -> dict[str, Any]:
        return {
            "agent_id": agent,
            "status": status,
            "dry_run": dry_run,
            "started_at": started,
            "finished_at": now_iso(),
            "packages": results,
            "log": "\n".join(log_lines)[-60000:],
            "reboot_required": Path("/var/run/reboot-required").exists(),
        }

    def skip_all(message: str) -> dict[str, Any]:
        log_lines.append(message)
        for package in packages:
            results.append(
                {
                    "name": package.get("name"),
                    "version": package.get("version"),
                    "status": "skipped",
                    "message": message,
                }
            )
        return finish("failed")

    if not_after is not None and now > not_after:
        return skip_all(f"the job's window closed at {job.get('not_after')}; nothing was run")
    if action == "snapshot":
        try:
            command = snapshot_command(dry_run)
        except ValueError as exc:
            log_lines.append(str(exc))
            return finish("failed")
        if command is None:
            log_lines.append("dry run: a snapshot would be taken")
            return finish("succeeded")
        ok, _message = _run_logged(command, log_lines, INSTALL_TIMEOUT)
        return finish("succeeded" if ok else "failed")
    if action not in ("install", "rollback"):
        return skip_all(f"unknown action {action!r}")
    if tool is None:
        return skip_all(f"no supported package tool on {platform.system()}")
    # A package of an install job ends "installed", one of a rollback job "rolled_back".
    done = "rolled_back" if action == "rollback" else "installed"
    for package in packages:
        entry = {"name": package.get("name"), "version": package.get("version")}
        try:
            command = job_command(tool, action, package, dry_run)
        except ValueError as exc:
            log_lines.append(str(exc))
            results.append({**entry, "status": "failed", "message": str(exc)})
            continue
        ok, message = _run_logged(command, log_lines, INSTALL_TIMEOUT)
        results.append({**entry, "status": done if ok else "failed", "message": message})
    policy = job.get("reboot_policy") or "manual_approval"
    log_lines.append(f"reboot policy {policy}: the agent does not restart the machine itself")
    ok = bool(results) and all(r["status"] == done for r in results)
    return finish("succeeded" if ok else "failed")


def fetch_jobs(base: str, token: str, agent: str, timeout: float) -> list[dict[str, Any]]:
    url = base + "api/v1/agent-jobs/?" + urllib.parse.urlencode({"agent_id": agent})
    jobs: list[dict[str, Any]] = []
    pages = 0
    while url and pages < 50:
        body = request_json("GET", url, token, timeout=timeout)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise AgentError(f"GET {url}: expected a JSON object with 'results'")
        jobs.extend(job for job in body["results"] if isinstance(job, dict))
        url = body.get("next") or ""
        pages += 1
    return jobs


def command_jobs(args: argparse.Namespace) -> int:
    base = base_url(args.url)
    token = _token(args)
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    system_info = (
        linux_system_info() if platform.system() == "Linux" else {"hostname": socket.gethostname()}
    )
    agent = agent_id(state_dir, system_info)
    jobs = fetch_jobs(base, token, agent, args.timeout)
    log(f"{len(jobs)} job(s) for agent {agent}")
    changed = False
    failures = 0
    now = datetime.now(UTC)
    for job in jobs:
        job_id = str(job.get("id") or "")
        if not _JOB_ID.match(job_id):
            log(f"skipping a job with a bad id {job_id!r}")
            continue
        not_before = _parse_time(job.get("not_before"))
        if not_before is not None and now < not_before:
            log(f"job {job_id} waits until {job.get('not_before')}")
            continue
        result = run_job(job, agent, dry_run=args.dry_run)
        request_json(
            "POST", f"{base}api/v1/agent-jobs/{job_id}/result/", token, result, args.timeout
        )
        log(f"job {job_id}: {result['status']}")
        if result["status"] != "succeeded":
            failures += 1
        if not args.dry_run and any(
            p["status"] in ("installed", "rolled_back") for p in result["packages"]
        ):
            changed = True
    if changed:
        # The next inventory is what proves a fix installed (or gone again after a rollback).
        push(collect(state_dir), base, token, args.timeout)
        log("fresh inventory pushed for verification")
    return EXIT_OK if failures == 0 else EXIT_REMOTE


# --------------------------------------------------------------------------- CLI


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise AgentError(f"no agent token: give --token or set {TOKEN_ENV}", EXIT_USAGE)
    return token


def command_collect(args: argparse.Namespace) -> int:
    if not args.dry_run:
        base = base_url(args.url)
        token = _token(args)
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    payload = collect(state_dir, pending=not args.no_pending)
    if args.dry_run:
        # ASCII JSON: a Windows console code page cannot print every character.
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    answer = push(payload, base, token, args.timeout)
    summary = f": {json.dumps(answer)[:300]}" if answer else ""
    log(f"inventory of {payload['system_info'].get('hostname')} pushed{summary}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchops-agent",
        description="Report this machine to PatchOps and run the patch jobs it queues.",
    )
    parser.add_argument("--version", action="version", version=f"patchops-agent {__version__}")
    commands = parser.add_subparsers(dest="command")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--url",
            default=os.environ.get(URL_ENV),
            help="client base URL, e.g. https://portal/clients/acme/",
        )
        sub.add_argument("--token", help=f"agent token (default: ${TOKEN_ENV})")
        sub.add_argument("--dry-run", action="store_true")
        sub.add_argument(
            "--state-dir",
            help=f"where the agent id is kept (default: ${STATE_ENV} or a system path)",
        )
        sub.add_argument("--timeout", type=float, default=60, help="HTTP timeout in seconds")

    collect_parser = commands.add_parser(
        "collect", help="collect and push (or print) the inventory"
    )
    common(collect_parser)
    collect_parser.add_argument(
        "--no-pending", action="store_true", help="skip the pending-update check"
    )
    collect_parser.set_defaults(func=command_collect)
    jobs_parser = commands.add_parser("jobs", help="run the patch jobs queued for this machine")
    common(jobs_parser)
    jobs_parser.set_defaults(func=command_jobs)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "collect")
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        status = args.func(args)
    except AgentError as exc:
        log(f"error: {exc}")
        return exc.status
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BrokenPipeError:
        # The reader of --dry-run output went away (``| head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    if os.environ.get("PATCHOPS_AGENT_TIMING"):
        log(f"done in {time.monotonic() - started:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
