"""Hand-made discovery payloads for the inventory tests."""

from __future__ import annotations

from typing import Any


def windows_payload(
    *,
    agent_id: str = "agent-win-001",
    hostname: str = "FRONTDESK-01",
    programs: list[dict[str, Any]] | None = None,
    patches: list[dict[str, Any]] | None = None,
    pending: list[dict[str, Any]] | None = None,
    software_count: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    if programs is None:
        programs = [
            {"name": "Google Chrome", "version": "124.0.6367.91", "publisher": "Google LLC"},
            {"name": "Adobe Acrobat Reader DC", "version": "24.002.20687", "publisher": "Adobe"},
            {"name": "TeamViewer", "version": "15.52.3", "publisher": "TeamViewer"},
            {"name": "Java 8 Update 401", "version": "8.0.4010.10", "publisher": "Oracle"},
            {"name": "Epic Hyperspace", "version": "10.4", "publisher": "Epic Systems"},
            {"name": "7-Zip 23.01 (x64)", "version": "23.01", "publisher": "Igor Pavlov"},
        ]
        programs += [
            {"name": f"Synthetic Tool {i}", "version": f"1.{i}", "publisher": "Acme"}
            for i in range(software_count)
        ]
    payload: dict[str, Any] = {
        "agent_id": agent_id,
        "collected_at": "2026-03-02T08:00:00Z",
        "system_info": {
            "hostname": hostname,
            "hardware_serial": f"SN-{agent_id}",
            "hardware_vendor": "Dell Inc.",
            "hardware_model": "OptiPlex 7010",
        },
        "os_version": {
            "name": "Microsoft Windows 11 Pro",
            "version": "10.0.22631",
            "build": "22631",
            "platform": "windows",
        },
        "interface_addresses": [{"interface": "eth0", "address": "10.1.2.30", "mask": "255.0.0.0"}],
        "interface_details": [{"interface": "eth0", "mac": "00:1A:2B:3C:4D:5E"}],
        "programs": programs,
        "patches": patches
        if patches is not None
        else [
            {
                "hotfix_id": "KB5036893",
                "description": "Security Update",
                "installed_on": "4/9/2024",
            },
            {"hotfix_id": "KB5037591", "description": "Update", "installed_on": "4/12/2024"},
        ],
        "pending_updates": pending
        if pending is not None
        else [
            {
                "name": "2024-05 Cumulative Update for Windows 11",
                "source": "windows_update",
                "advisory": "KB5037771",
                "cves": ["CVE-2024-30051", "CVE-2024-30040"],
                "severity": "critical",
                "reboot_required": True,
            }
        ],
        "some_future_table": [{"ignored": True}],
    }
    payload.update(extra)
    return payload


def ubuntu_payload(*, hostname: str = "app-srv-01", agent_id: str = "agent-lnx-001") -> dict:
    return {
        "agent_id": agent_id,
        "system_info": {"hostname": hostname},
        "os_version": {"name": "Ubuntu", "version": "22.04.4 LTS", "platform": "ubuntu"},
        "deb_packages": [
            {"name": "openssl", "version": "3.0.2-0ubuntu1.15", "arch": "amd64"},
            {"name": "openjdk-17-jre-headless", "version": "17.0.10+7-1~22.04.1", "arch": "amd64"},
            {"name": "firefox", "version": "1:1snap1-0ubuntu2", "arch": "amd64"},
        ],
        "pending_updates": [
            {
                "name": "openssl",
                "installed_version": "3.0.2-0ubuntu1.15",
                "available_version": "3.0.2-0ubuntu1.16",
                "source": "apt",
                "advisory": "USN-6786-1",
                "cves": ["CVE-2024-4603"],
                "severity": "medium",
            }
        ],
    }
