"""Drive rings through the real producers, the way production does.

Devices are agents that push discovery payloads to ``discovery/`` with an agent token; their
findings come from ingest and matching (reported pending updates, KEV from the catalogue
import). People act through the API with their session; the rollout beat is the rings task.
Agents poll ``agent-jobs/`` and report results (``patchops-agent jobs`` protocol) and, like the
real agent, push a fresh inventory after a job changed the machine.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from rings import tasks
from tests.mfa import sign_in

BASE = "/clients/tenant-a/api/v1/"


@dataclass
class Device:
    """One machine's state as its agent would report it."""

    hostname: str
    os: str = "windows"  # windows, windows_server, ubuntu, macos
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # KB → severity, cves
    installed: set[str] = field(default_factory=set)
    offered: dict[str, dict[str, Any]] = field(default_factory=dict)  # installed updates' info
    attributes: dict[str, Any] = field(default_factory=dict)
    reports: bool = True  # an agent that runs jobs (False: the device is offline)

    @property
    def agent_id(self) -> str:
        return f"agent-{self.hostname.lower()}"

    def payload(self) -> dict[str, Any]:
        os_version = {
            "windows": {
                "name": "Microsoft Windows 11 Pro",
                "version": "10.0.22631",
                "build": "22631",
                "platform": "windows",
            },
            "windows_server": {
                "name": "Microsoft Windows Server 2022 Standard",
                "version": "10.0.20348",
                "build": "20348",
                "platform": "windows",
            },
            "ubuntu": {"name": "Ubuntu", "version": "22.04.4 LTS", "platform": "ubuntu"},
            "macos": {"name": "macOS", "version": "14.5", "platform": "darwin"},
        }[self.os]
        body: dict[str, Any] = {
            "agent_id": self.agent_id,
            "system_info": {"hostname": self.hostname, "hardware_serial": f"SN-{self.hostname}"},
            "os_version": os_version,
            "pending_updates": [
                {
                    "name": f"Security update {kb}",
                    "source": "windows_update" if self.os.startswith("windows") else "apt",
                    "advisory": kb,
                    "cves": list(info.get("cves", [])),
                    "severity": info.get("severity", "critical"),
                    "reboot_required": True,
                }
                for kb, info in sorted(self.pending.items())
            ],
        }
        if self.os.startswith("windows"):
            body["patches"] = [
                {"hotfix_id": kb, "description": "Security Update", "installed_on": "6/1/2026"}
                for kb in sorted(self.installed)
            ]
        if self.attributes:
            body["patchops"] = dict(self.attributes)
        return body


class Fleet:
    """Devices with their agents, pushing to the discovery API with one agent token.

    Agents report, they don't decide: a device whose role or class people decided (its
    ``attributes``) is first recorded by an operator's import of the office's inventory
    (``manage.py ingest``, the whole first batch in one run, as the API would have), and only
    then reports through its agent."""

    def __init__(self, token: str, slug: str = "tenant-a") -> None:
        self.http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.devices: dict[str, Device] = {}
        self.slug = slug
        self.base = f"/clients/{slug}/api/v1/"
        self.imported: set[str] = set()

    def add(self, *devices: Device) -> list[Device]:
        for device in devices:
            self.devices[device.hostname] = device
        return list(devices)

    def push(self, *hostnames: str) -> dict[str, Any]:
        names = hostnames or tuple(self.devices)
        body = [self.devices[n].payload() for n in names]
        if any(self.devices[n].attributes and n not in self.imported for n in names):
            return self._operator_import(names, body)
        response = self.http.post(self.base + "discovery/", body, content_type="application/json")
        assert response.status_code == 201, response.content
        return response.json()

    def _operator_import(self, names: Iterable[str], body: list[dict]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "office-inventory.json"
            path.write_text(json.dumps(body))
            call_command(
                "ingest", self.slug, str(path), "--format", "osquery", stdout=io.StringIO()
            )
        self.imported.update(names)
        return {"devices": len(body)}

    def missing(self, kb: str, *hostnames: str, severity: str = "critical", cves=()) -> None:
        """These devices report ``kb`` pending (their next push opens the findings)."""
        for name in hostnames:
            self.devices[name].pending[kb] = {"severity": severity, "cves": list(cves)}

    def by_agent(self, agent_id: str) -> Device:
        return next(d for d in self.devices.values() if d.agent_id == agent_id)

    def poll(self, device: Device) -> list[dict[str, Any]]:
        response = self.http.get(self.base + "agent-jobs/", {"agent_id": device.agent_id})
        assert response.status_code == 200, response.content
        return response.json()["results"]

    def report(self, device: Device, job: dict[str, Any], ok: bool, message: str = "") -> dict:
        action = job["action"]
        done = {"install": "installed", "rollback": "rolled_back"}.get(action, "installed")
        body = {
            "agent_id": device.agent_id,
            "status": "succeeded" if ok else "failed",
            "dry_run": False,
            "packages": [
                {
                    "name": p["name"],
                    "version": p["version"],
                    "status": done if ok else "failed",
                    "message": "" if ok else (message or "0x80070643"),
                }
                for p in job["packages"]
            ],
            "log": f"{action} by the test agent",
        }
        response = self.http.post(
            f"{self.base}agent-jobs/{job['id']}/result/", body, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        return response.json()

    def run_jobs(
        self, *, fail: Iterable[str] = (), push: bool = True, only: Iterable[str] = ()
    ) -> dict[str, int]:
        """Every reporting agent polls and runs its jobs: hosts in ``fail`` fail them. After a
        job changed the machine the agent pushes a fresh inventory (as ``patchops-agent jobs``
        does), which is what verifies an install or shows a rollback."""
        ran: dict[str, int] = {}
        changed = []
        fail, only = set(fail), set(only)
        for device in self.devices.values():
            if not device.reports or (only and device.hostname not in only):
                continue
            for job in self.poll(device):
                ok = device.hostname not in fail
                self.report(device, job, ok)
                ran[job["action"]] = ran.get(job["action"], 0) + 1
                if not ok or job["action"] == "snapshot":
                    continue
                for package in job["packages"]:
                    kb = package["advisory"]
                    if job["action"] == "install":
                        device.offered[kb] = device.pending.pop(kb, {})
                        device.installed.add(kb)
                    else:  # rolled back: gone again, and Windows Update offers it again
                        device.installed.discard(kb)
                        device.pending[kb] = device.offered.get(kb, {})
                changed.append(device.hostname)
        if push and changed:
            self.push(*changed)
        return ran


def person(user) -> HttpClient:
    http = HttpClient()
    sign_in(http, user)
    return http


def tick(client) -> dict:
    """What the rollout beat does for one client (the task, called directly)."""
    with tenant_context(client):
        return tasks.evaluate_client_rollouts()


def nightly_window(engineer_http: HttpClient, start: str = "22:00") -> dict:
    response = engineer_http.post(
        BASE + "maintenance-windows/",
        {
            "name": "Nightly",
            "scope": "client",
            "recurrence": "weekly",
            "weekdays": [0, 1, 2, 3, 4, 5, 6],
            "start_time": start,
            "duration_minutes": 240,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def rollout_body(http: HttpClient, rollout_id: str) -> dict:
    response = http.get(f"{BASE}rollouts/{rollout_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def wave_of(body: dict, ring: str) -> dict:
    return next(w for w in body["waves"] if w["ring"]["key"] == ring)


def members(http: HttpClient) -> dict[str, str]:
    """hostname → ring key, read from every ring's ``members/`` API."""
    placed: dict[str, str] = {}
    for ring in http.get(BASE + "rings/").json()["results"]:
        url = f"{BASE}rings/{ring['id']}/members/?limit=500"
        for member in http.get(url).json()["results"]:
            placed[member["hostname"]] = ring["key"]
    return placed


def pass_runbook(http: HttpClient, rollout_id: str, wave_id: str) -> None:
    for check in http.get(BASE + "runbook-checks/").json()["results"]:
        response = http.post(
            f"{BASE}rollouts/{rollout_id}/runbook/",
            {"wave": wave_id, "check": check["id"], "passed": True},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content


def advance(
    client,
    fleet: Fleet,
    http: HttpClient,
    rollout_id: str,
    ring: str,
    until: Iterable[str] = ("soaking",),
    *,
    fail: Iterable[str] = (),
    rounds: int = 6,
) -> dict:
    """Beat ticks and agent runs, in turn, until the ring's wave reaches one of ``until``."""
    until = set(until)
    for _ in range(rounds):
        tick(client)
        body = rollout_body(http, rollout_id)
        if wave_of(body, ring)["state"] in until or body["state"] != "active":
            return body
        fleet.run_jobs(fail=fail)
    raise AssertionError(f"{ring} never reached {sorted(until)}: {wave_of(body, ring)['state']}")
