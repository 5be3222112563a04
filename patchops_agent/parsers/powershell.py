"""Pure readers of the agent's own PowerShell inventory and pending-update JSON (without
PowerShell the agent reads ``systeminfo /FO CSV`` with ``parsers.systeminfo``)."""

from __future__ import annotations

from typing import Any

from patchops_agent.base import split_version
from patchops_agent.parsers.linux import _mask

_MSRC_SEVERITY = {"critical": "critical", "important": "high", "moderate": "medium", "low": "low"}


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
