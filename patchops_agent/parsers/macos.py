"""Pure parsers of what macOS tools print: sw_vers, system_profiler, softwareupdate, Homebrew
and ifconfig."""

from __future__ import annotations

import ipaddress
import json
import platform
import re
from typing import Any

from patchops_agent.base import split_version
from patchops_agent.parsers.linux import _mask


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
