"""A local Tactical RMM API on 127.0.0.1 (http.server in a thread): ``GET /agents/``,
``/agents/<agent_id>/``, ``/software/<agent_id>/`` and ``/winupdate/<agent_id>/`` with the shapes
Tactical's serializers give (AgentTableSerializer, AgentSerializer, InstalledSoftwareSerializer,
WinUpdateSerializer), the ``X-API-KEY`` check (401 ``{"detail": "Invalid token."}``) and scripted
faults per path (a status, a delay, a body that is not JSON)."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "TRMMKEY0123456789ABCDEFGHIJ"


def seen(minutes: int = 5) -> str:
    """A ``last_seen`` as DRF renders it, some minutes ago."""
    at = datetime.now(UTC) - timedelta(minutes=minutes)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def windows_agent(
    agent_id: str,
    hostname: str,
    *,
    os_line: str = "Windows 11 Pro, 64 bit v23H2 (build 22631.2861)",
    serial: str = "5CG1234XYZ",
    mac: str = "00:15:5D:01:02:03",
    ip: str = "10.20.0.11",
    last_seen: str = "",
    software: list[dict[str, Any]] | None = None,
    updates: list[dict[str, Any]] | None = None,
    monitoring_type: str = "workstation",
) -> dict[str, Any]:
    """One Windows agent as the server keeps it (the table row, the detail, software, updates)."""
    return {
        "agent_id": agent_id,
        "hostname": hostname,
        "plat": "windows",
        "goarch": "amd64",
        "operating_system": os_line,
        "monitoring_type": monitoring_type,
        "last_seen": last_seen or seen(),
        "needs_reboot": False,
        "wmi_detail": {
            "bios": [[{"SerialNumber": serial}, {"Manufacturer": "HP"}]],
            "comp_sys": [[{"Model": "HP EliteBook 840 G8"}]],
            "network_config": [
                [
                    {"Caption": "[00000001] Intel(R) Ethernet Connection (13) I219-LM"},
                    {"DHCPEnabled": True},
                    {"IPAddress": [ip, "fe80::1c2d:3e4f:5a6b:7c8d"]},
                    {"MACAddress": mac},
                ]
            ],
        },
        "make_model": "HP HP EliteBook 840 G8",
        "local_ips": ip,
        "software": software if software is not None else [],
        "updates": updates if updates is not None else [],
    }


def posix_agent(
    agent_id: str,
    hostname: str,
    *,
    plat: str,
    os_line: str,
    serial: str,
    ip: str,
    goarch: str = "amd64",
    last_seen: str = "",
) -> dict[str, Any]:
    """A Linux or macOS agent: its WMI detail is the Go agent's flat map; it never reports a
    software list (``GET /software/<id>/`` answers ``[]``) and has no Windows updates."""
    return {
        "agent_id": agent_id,
        "hostname": hostname,
        "plat": plat,
        "goarch": goarch,
        "operating_system": os_line,
        "monitoring_type": "server" if plat == "linux" else "workstation",
        "last_seen": last_seen or seen(3),
        "needs_reboot": False,
        "wmi_detail": {
            "local_ips": [f"{ip}/24", "fe80::a00:27ff:fe4e:66a1/64"],
            "make_model": "QEMU Standard PC (Q35 + ICH9, 2009)",
            "serialnumber": serial,
            "cpus": ["AMD EPYC 7763 64-Core Processor"],
            "gpus": [],
            "disks": ["QEMU HARDDISK sda 64 GB"],
        },
        "make_model": "QEMU Standard PC (Q35 + ICH9, 2009)",
        "local_ips": ip,
        "software": None,
        "updates": None,
    }


def program(name: str, version: str, publisher: str) -> dict[str, Any]:
    """A software row as the Windows agent reports it (WinSoftwareList)."""
    return {
        "name": name,
        "version": version,
        "publisher": publisher,
        "install_date": "2026-01-14 00:00:00 +0000 UTC",
        "size": "123.4 MB",
        "source": "",
        "location": "C:\\Program Files\\" + name,
        "uninstall": f'"C:\\Program Files\\{name}\\uninstall.exe"',
    }


def winupdate(
    pk: int, kb: str, title: str, *, installed: bool, severity: str = "Critical"
) -> dict[str, Any]:
    """A row of WinUpdateSerializer (``fields = "__all__"``)."""
    return {
        "id": pk,
        "guid": f"7f2a{pk:04d}-0000-4000-8000-00000000{pk:04d}",
        "kb": kb,
        "mandatory": False,
        "title": title,
        "needs_reboot": False,
        "installed": installed,
        "downloaded": installed,
        "description": title,
        "severity": severity,
        "categories": ["Security Updates"],
        "category_ids": ["0fa1201d-4330-4fa8-8ae9-b877473b6441"],
        "kb_article_ids": [kb.removeprefix("KB")],
        "more_info_urls": [f"https://support.microsoft.com/help/{kb.removeprefix('KB')}"],
        "support_url": "https://support.microsoft.com",
        "revision_number": 200,
        "action": "nothing" if not installed else "approve",
        "result": "success" if installed else "n/a",
        "date_installed": "2026-02-12T03:10:00Z" if installed else None,
        "agent": pk,
    }


_TABLE = ("agent_id", "hostname", "plat", "goarch", "monitoring_type", "last_seen", "needs_reboot")


@dataclass
class TacticalServer:
    url: str = ""
    agents: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # path → (status, body bytes or None, delay seconds)
    faults: dict[str, tuple[int, bytes | None, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def agent(self, agent_id: str) -> dict[str, Any]:
        return next(a for a in self.agents if a["agent_id"] == agent_id)

    def _answer(self, path: str) -> tuple[int, Any]:
        base = path.split("?")[0]
        if base == "/agents/":
            rows = []
            for a in self.agents:
                row = {k: a[k] for k in _TABLE}
                row.update(
                    site_name="Main Office",
                    client_name="Acme Dental",
                    description="",
                    has_patches_pending=any(not u["installed"] for u in a["updates"] or []),
                    pending_actions_count=0,
                    status="online",
                    overdue_text_alert=False,
                    overdue_email_alert=False,
                    overdue_dashboard_alert=False,
                    boot_time=1767000000.0,
                    checks={"total": 0, "passing": 0, "failing": 0, "warning": 0, "info": 0},
                    maintenance_mode=False,
                    logged_username="-",
                    italic=False,
                    policy=None,
                    block_policy_inheritance=False,
                    alert_template=None,
                )
                rows.append(row)
            return 200, rows
        parts = [p for p in base.split("/") if p]
        if len(parts) == 2 and parts[0] in ("agents", "software", "winupdate"):
            try:
                a = self.agent(parts[1])
            except StopIteration:
                return 404, {"detail": "Not found."}
            if parts[0] == "agents":
                detail = {k: copy.deepcopy(v) for k, v in a.items() if k not in ("software",)}
                detail.pop("updates", None)
                detail.update(
                    version="2.6.2",
                    public_ip="203.0.113.7",
                    total_ram=16,
                    status="online",
                    client="Acme Dental",
                    site_name="Main Office",
                    timezone="America/Chicago",
                    custom_fields=[],
                    winupdatepolicy=[],
                    checks={"total": 0, "passing": 0, "failing": 0, "warning": 0, "info": 0},
                )
                return 200, detail
            if parts[0] == "software":
                if not a["software"]:
                    return 200, []
                return 200, {"id": 1, "software": a["software"], "agent": 1}
            return 200, a["updates"] or []
        return 404, {"detail": "Not found."}


@contextmanager
def tactical_server() -> Iterator[TacticalServer]:
    server = TacticalServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            headers = {k.lower(): v for k, v in self.headers.items()}
            with server.lock:
                server.calls.append((self.path, headers))
                fault = server.faults.get(self.path.split("?")[0])
            if headers.get("x-api-key") != API_KEY:
                status, body = 401, json.dumps({"detail": "Invalid token."}).encode()
            elif fault:
                status, raw, delay = fault
                if delay:
                    time.sleep(delay)
                body = raw if raw is not None else json.dumps({"detail": "error"}).encode()
            else:
                with server.lock:
                    status, data = server._answer(self.path)
                body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
