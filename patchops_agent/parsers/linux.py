"""Pure parsers of what Linux tools print: os-release, ``ip -j``, dpkg-query, apt, rpm and dnf."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any


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
