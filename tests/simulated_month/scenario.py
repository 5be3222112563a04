"""The clinic, its fleet and its October: what happens, when, through which interface."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from tests.mfa import sign_in

SLUG = "lakeside-clinic"
NAME = "Lakeside Family Clinic"
CHICAGO = ZoneInfo("America/Chicago")
API = f"/clients/{SLUG}/api/v1/"
PORTAL = f"/clients/{SLUG}/portal/exceptions/"
OWNER, ENGINEER, ADMIN = "owner@lakeside.test", "engineer@msp.test", "admin@msp.test"
KB_WS, KB_SRV = "KB5032190", "KB5032198"
PRODUCTS = {KB_WS: "Windows 11 Version 23H2 for x64-based Systems", KB_SRV: "Windows Server 2022"}
HOTFIXES_SRV = {"KB5031364"}  # the server's October 2023 cumulative update
WAYLAND_OLD, WAYLAND_FIXED = "1.20.0-1", "1.20.0-1ubuntu0.1"
WAYLAND = f"libwayland-client0@{WAYLAND_FIXED}"
WAYLAND_CVE = "CVE-2021-3782"
ZOOM_OLD, ZOOM_NEW = "5.17.0", "6.0.2"
ZOOM = f"zoom.us@{ZOOM_NEW}"
STALE = timedelta(days=14)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


MINUTE = timedelta(minutes=1)
PERIOD_START, PERIOD_END = at(1, 5), at(1, 5, month=11)
QUARTER_START = at(1, 5, month=8)
REPORTED_AT = at(1, 6, month=11)  # the reports are generated at 01:00 CDT on 1 November

# --- the script's instants -----------------------------------------------------------------------

SETUP = at(30, 15, month=9)
FIRST_REPORT = at(1, 14)
RINGS_PINNED = at(1, 14, 30)
DEFERRAL_REQUESTED = at(1, 15)
SIGNED = at(1, 16)
EXPIRES = at(1, 0, month=12)  # 2026-11-30 18:00 CST
ROLLOUT_CREATED = at(2, 15)
NIGHTS = {"canary": at(3, 3, 5), "pilot": at(5, 3, 5), "production": at(8, 3, 5)}
RUNBOOK = {"canary": at(3, 14), "pilot": at(5, 14), "production": at(8, 14)}
SOAK_OVER = {"canary": at(4, 4), "pilot": at(7, 4), "production": at(11, 4)}  # beat ticks
APPROVED = {"pilot": (at(4, 14), ENGINEER), "production": (at(7, 15), OWNER)}
ROLLBACK = at(3, 16)
ROLLBACK_WHAT = "EHR client crashes after the update"
FIXED_BY_HAND = {
    "lfc-mac-01": at(2, 15, 30),
    "lfc-mac-02": at(4, 15),
    "lfc-mac-03": at(6, 15),
    "lfc-mac-04": at(7, 15, 30),
    "lfc-lnx-01": at(6, 16),
    "lfc-lnx-02": at(7, 16),
    "lfc-lnx-03": at(9, 16),
    "lfc-lnx-04": at(12, 16),
}
WEEKLY = [at(5, 12), at(12, 12), at(19, 12), at(26, 12), at(31, 12)]
ROLLED_BACK, QUIET = "lfc-ws-14", "lfc-ws-30"

WORKSTATIONS = [f"lfc-ws-{i:02d}" for i in range(1, 31)]
EPHI = {*WORKSTATIONS[:12], "lfc-ehr-db"}
SERVERS = ["lfc-file-01", "lfc-ehr-db"]
LINUX = [f"lfc-lnx-{i:02d}" for i in range(1, 5)]
MACS = [f"lfc-mac-{i:02d}" for i in range(1, 5)]
RINGS = {
    "canary": ["lfc-ws-13", "lfc-ws-14", "lfc-ws-15", "lfc-ws-16", "lfc-mac-01"],
    "pilot": ["lfc-ws-17", "lfc-ws-18", "lfc-ws-19", "lfc-ws-20", "lfc-lnx-01", "lfc-mac-02"],
}
PINNED = RINGS["canary"] + RINGS["pilot"]
RINGS["production"] = [h for h in WORKSTATIONS + SERVERS + LINUX + MACS if h not in PINNED]
RING_NAMES = {"canary": "Canary", "pilot": "Pilot", "production": "Production"}


def installs(ring: str) -> list[str]:
    """The ring's devices the rollout patches (the EHR server is excepted), in job order."""
    return [h for h in RINGS[ring] if h in WORKSTATIONS or h == "lfc-file-01"]


# The agents of a wave run their installs a minute apart, from five minutes after the beat
# promoted it.
INSTALLED = {
    host: NIGHTS[ring] + (5 + i) * MINUTE for ring in RINGS for i, host in enumerate(installs(ring))
}


def wave_done(ring: str) -> datetime:
    return max(INSTALLED[h] for h in installs(ring)) + MINUTE


# --- the devices, as their agents see them ------------------------------------------------------


@dataclass
class Machine:
    hostname: str
    kind: str  # ws, server, linux, mac
    hotfixes: set[str] = field(default_factory=set)
    debs: dict[str, str] = field(default_factory=dict)
    zoom: str = ZOOM_OLD
    online: bool = True
    reports: list[datetime] = field(default_factory=list)  # when its agent pushed

    @property
    def agent_id(self) -> str:
        return f"agent-{self.hostname}"

    def payload(self, now: datetime) -> dict[str, Any]:
        body: dict[str, Any] = {
            "agent_id": self.agent_id,
            "collected_at": now.isoformat().replace("+00:00", "Z"),
            "system_info": {"hostname": self.hostname, "hardware_serial": f"SN-{self.hostname}"},
            "os_version": OS_VERSION[self.kind],
            "pending_updates": [],
        }
        if self.kind in ("ws", "server"):
            body["patches"] = [
                {"hotfix_id": kb, "description": "Security Update"} for kb in sorted(self.hotfixes)
            ]
            body["programs"] = []
        elif self.kind == "linux":
            body["deb_packages"] = [
                {"name": name, "version": version, "arch": "amd64"}
                for name, version in sorted(self.debs.items())
            ]
        else:
            body["apps"] = [
                {"name": "zoom.us", "bundle_identifier": "us.zoom.xos",
                 "bundle_short_version": self.zoom}
            ]  # fmt: skip
            if self.zoom != ZOOM_NEW:
                body["pending_updates"] = [
                    {"name": "zoom.us", "installed_version": self.zoom,
                     "available_version": ZOOM_NEW, "source": "other", "severity": "high"}
                ]  # fmt: skip
        if self.hostname in EPHI:
            body["patchops"] = {"ephi": True}
        return body


OS_VERSION = {
    "ws": {"name": "Microsoft Windows 11 Enterprise", "version": "10.0.22631", "build": "22631",
           "platform": "windows", "arch": "x86_64"},
    "server": {"name": "Microsoft Windows Server 2022 Standard", "version": "10.0.20348",
               "build": "20348", "platform": "windows", "arch": "x86_64"},
    "linux": {"name": "Ubuntu", "version": "22.04.4 LTS", "platform": "ubuntu", "arch": "x86_64"},
    "mac": {"name": "macOS", "version": "14.6.1", "platform": "darwin"},
}  # fmt: skip


def fleet(realdata: Path) -> dict[str, Machine]:
    systeminfo = (realdata / "windows-hotfix/11_23H2_x64_enterprise_systeminfo.txt").read_text(
        encoding="ascii"
    )
    hotfixes = set(re.findall(r"\[\d+\]: (KB\d+)", systeminfo))
    assert hotfixes == {"KB5027397", "KB5029921", "KB5031354", "KB5031592"}
    manifest = (realdata / "package-inventory/ubuntu-jammy-oci-amd64-root.manifest").read_text()
    debs = {
        name.split(":")[0]: version
        for name, version in (line.split("\t") for line in manifest.splitlines() if line.strip())
    }
    machines = [Machine(h, "ws", hotfixes=set(hotfixes)) for h in WORKSTATIONS]
    machines += [Machine(h, "server", hotfixes=set(HOTFIXES_SRV)) for h in SERVERS]
    machines += [
        Machine(h, "linux", debs=debs | {"libwayland-client0": WAYLAND_OLD}) for h in LINUX
    ]
    machines += [Machine(h, "mac") for h in MACS]
    return {m.hostname: m for m in machines}


# --- the clinic, driven through its public interfaces -------------------------------------------


class Clinic:
    def __init__(self, realdata: Path, agent_token: str) -> None:
        from tenants.models import Client, User

        self.client = Client.objects.get(slug=SLUG)
        self.machines = fleet(realdata)
        self.agents = HttpClient(HTTP_AUTHORIZATION=f"Bearer {agent_token}")
        self.people: dict[str, HttpClient] = {}
        for email in (ADMIN, ENGINEER, OWNER):
            http = HttpClient()
            sign_in(http, User.objects.get(email=email))
            self.people[email] = http
        self.rollout = ""
        self.exception = ""
        self.signed_sha256 = ""

    @staticmethod
    def now() -> datetime:
        from django.utils import timezone

        return timezone.now()

    def call(self, who: str, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        http = self.people[who]
        url = path if path.startswith("/") else API + path
        if method == "get":
            response = http.get(url)
        else:
            response = getattr(http, method)(
                url, json.dumps(body or {}), content_type="application/json"
            )
        assert response.status_code == status, (path, response.content[:2000])
        return response.json() if response.content else None

    # agents

    def push(self, names: Iterable[str] | None = None) -> None:
        """These agents (default: every one online) push their inventory now."""
        wanted = [
            m
            for m in self.machines.values()
            if (m.online if names is None else m.hostname in set(names))
        ]
        now = self.now()
        response = self.agents.post(
            API + "discovery/",
            json.dumps([m.payload(now) for m in wanted]),
            content_type="application/json",
        )
        assert response.status_code == 201, response.content[:2000]
        for machine in wanted:
            machine.reports.append(now)

    def run_jobs(self, name: str) -> list[str]:
        """The agent polls its jobs, runs them (they succeed) and, after a job that changed the
        machine, pushes a fresh inventory (what ``patchops-agent jobs`` does)."""
        machine = self.machines[name]
        response = self.agents.get(API + "agent-jobs/", {"agent_id": machine.agent_id})
        assert response.status_code == 200, response.content
        actions = []
        for job in response.json()["results"]:
            done = {"install": "installed", "rollback": "rolled_back"}.get(job["action"], "ok")
            body = {
                "agent_id": machine.agent_id,
                "status": "succeeded",
                "dry_run": False,
                "packages": [
                    {"name": p["name"], "version": p["version"], "status": done}
                    for p in job["packages"]
                ],
                "log": f"{job['action']} done",
            }
            result = self.agents.post(
                f"{API}agent-jobs/{job['id']}/result/",
                json.dumps(body),
                content_type="application/json",
            )
            assert result.status_code == 200, result.content
            for package in job["packages"]:
                if job["action"] == "install":
                    machine.hotfixes.add(package["advisory"])
                elif job["action"] == "rollback":
                    machine.hotfixes.discard(package["advisory"])
            actions.append(job["action"])
        if set(actions) - {"snapshot"}:
            self.push([name])
        return actions

    def tick(self) -> None:
        """The rollout beat, until nothing moves."""
        from rings import tasks

        with tenant_context(self.client):
            for _ in range(6):
                if not tasks.evaluate_client_rollouts()["transitions"]:
                    break

    # people

    def rollout_body(self) -> dict[str, Any]:
        return self.call(ENGINEER, "get", f"rollouts/{self.rollout}/")

    def wave(self, ring: str) -> dict[str, Any]:
        return next(w for w in self.rollout_body()["waves"] if w["ring"]["key"] == ring)

    def asset_id(self, hostname: str) -> str:
        found = self.call(ENGINEER, "get", f"assets/?search={hostname}")["results"]
        return next(a["id"] for a in found if a["hostname"] == hostname)


# --- the script -----------------------------------------------------------------------------------


def script(clinic: Clinic, realdata: Path) -> list[tuple[datetime, Callable[[], Any]]]:
    machines = clinic.machines

    def setup() -> None:
        call_command("import_kev", str(realdata / "cisa-kev/known_exploited_vulnerabilities.json"))
        call_command("import_epss", str(realdata / "epss/epss_scores-current.excerpt.csv"))
        call_command("import_msrc", str(realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml"))
        call_command("import_osv", str(realdata / "ubuntu-osv/USN-5614-1.json"))
        clinic.call(ADMIN, "put", "sla-policy/", {"rules": [
            {"asset_class": "workstation", "tier": "critical", "window_hours": 336,
             "reboot_policy": "user_prompted"},
            {"asset_class": "core_server", "tier": "critical", "window_hours": 336,
             "reboot_policy": "scheduled", "reboot_weekday": 6, "reboot_time": "02:00"},
        ]})  # fmt: skip
        clinic.call(ADMIN, "post", "maintenance-windows/", {
            "name": "Nightly", "scope": "client", "recurrence": "weekly",
            "weekdays": [0, 1, 2, 3, 4, 5, 6], "start_time": "22:00", "duration_minutes": 240,
        }, status=201)  # fmt: skip

    def pin_rings() -> None:
        rings = {r["key"]: r["id"] for r in clinic.call(ADMIN, "get", "rings/")["results"]}
        for key in ("canary", "pilot"):
            for name in RINGS[key]:
                clinic.call(
                    ADMIN, "post", f"rings/{rings[key]}/pin/", {"asset": clinic.asset_id(name)}
                )
        clinic.call(ADMIN, "post", "rings/assign/")

    def request_deferral() -> None:
        clinic.exception = clinic.call(ENGINEER, "post", "exceptions/", {
            "kind": "deferral",
            "assets": [clinic.asset_id("lfc-ehr-db")],
            "findings": [],
            "reason": "The EHR vendor certifies the November update on its database server "
                      "first.",
            "ticket_reference": "PSA-2231",
            "expires_at": "2026-11-30T18:00:00-06:00",
            "approver": OWNER,
            "compensating_controls": [
                {"kind": "network_segmentation",
                 "description": "EHR database on VLAN 40, no internet access."},
                {"kind": "extra_monitoring", "description": "EDR alerts reviewed daily."},
            ],
        }, status=201)["id"]  # fmt: skip

    def owner_signs() -> None:
        from tests.authenticator import register_over_http
        from tests.conftest import PASSWORD
        from tests.exceptions_register.factories import page_options

        owner = clinic.people[OWNER]
        # The owner registers a passkey, then signs with it: the page's options answered.
        device = register_over_http(owner, name="Clinic laptop")
        page = owner.get(f"{PORTAL}{clinic.exception}/").content.decode()
        clinic.signed_sha256 = re.search(r"\b[0-9a-f]{64}\b", page).group(0)
        assertion = device.get(page_options(owner, f"{PORTAL}{clinic.exception}/"))
        response = owner.post(
            f"{PORTAL}{clinic.exception}/",
            {
                "decision": "sign",
                "password": PASSWORD,
                "text_sha256": clinic.signed_sha256,
                "passkey_assertion": json.dumps(assertion),
            },
            HTTP_USER_AGENT="Firefox/131",
            REMOTE_ADDR="198.51.100.23",
        )
        assert response.status_code == 302, response.content[:2000]

    def start_rollout() -> None:
        clinic.rollout = clinic.call(ENGINEER, "post", "rollouts/", {
            "name": "October cumulative updates", "selection": "patch_identifiers",
            "patch_identifiers": [KB_WS, KB_SRV],
        }, status=201)["id"]  # fmt: skip
        clinic.tick()
        approve("canary", ENGINEER)

    def approve(ring: str, who: str) -> None:
        clinic.call(
            who, "post", f"rollouts/{clinic.rollout}/approve/", {"wave": clinic.wave(ring)["id"]}
        )

    def night(ring: str) -> Callable[[], None]:
        """The window opens: the beat promotes the wave (requesting a snapshot of a core server
        first), the agents run their jobs one after another, the beat sees them verified."""

        def run() -> None:
            clinic.tick()
            for name in (n for n in installs(ring) if n in SERVERS):
                assert clinic.run_jobs(name) == ["snapshot"]  # installs are not queued yet
            with time_machine.travel(NIGHTS[ring] + MINUTE, tick=False):
                clinic.tick()
            for name in installs(ring):
                with time_machine.travel(INSTALLED[name], tick=False):
                    assert clinic.run_jobs(name) == ["install"]
            with time_machine.travel(wave_done(ring), tick=False):
                clinic.tick()

        return run

    def runbook(ring: str) -> Callable[[], None]:
        def run() -> None:
            wave = clinic.wave(ring)
            for check in clinic.call(ENGINEER, "get", "runbook-checks/")["results"]:
                clinic.call(
                    ENGINEER, "post", f"rollouts/{clinic.rollout}/runbook/",
                    {"wave": wave["id"], "check": check["id"], "passed": True},
                )  # fmt: skip

        return run

    def roll_back() -> None:
        clinic.call(ENGINEER, "post", f"rollouts/{clinic.rollout}/rollback/", {
            "wave": clinic.wave("canary")["id"], "assets": [clinic.asset_id(ROLLED_BACK)],
            "what": ROLLBACK_WHAT,
        })  # fmt: skip
        assert clinic.run_jobs(ROLLED_BACK) == ["rollback"]

    def fixed_by_hand(name: str) -> Callable[[], None]:
        def run() -> None:
            machine = machines[name]
            if machine.kind == "linux":
                machine.debs["libwayland-client0"] = WAYLAND_FIXED
            else:
                machine.zoom = ZOOM_NEW
            clinic.push([name])

        return run

    def first_report() -> None:
        clinic.push()
        # The MSP admin marks the ePHI systems: people decide it, not the agents.
        ids = [clinic.asset_id(name) for name in sorted(EPHI)]
        clinic.call(ADMIN, "post", "assets/bulk-tag/", {"assets": ids, "is_ephi": True})

    def goes_quiet() -> None:
        machines[QUIET].online = False

    steps: list[tuple[datetime, Callable[[], Any]]] = [
        (SETUP, setup),
        (FIRST_REPORT, first_report),
        (RINGS_PINNED, pin_rings),
        (DEFERRAL_REQUESTED, request_deferral),
        (SIGNED, owner_signs),
        (ROLLOUT_CREATED, start_rollout),
        (ROLLBACK, roll_back),
        (NIGHTS["production"] + timedelta(hours=1), goes_quiet),
        *((NIGHTS[ring], night(ring)) for ring in NIGHTS),
        *((RUNBOOK[ring], runbook(ring)) for ring in RUNBOOK),
        *((SOAK_OVER[ring], clinic.tick) for ring in SOAK_OVER),
        *(
            (moment, lambda r=ring, w=who: approve(r, w))
            for ring, (moment, who) in APPROVED.items()
        ),
        *((moment, fixed_by_hand(name)) for name, moment in FIXED_BY_HAND.items()),
        *((moment, clinic.push) for moment in WEEKLY),
    ]
    return sorted(steps, key=lambda step: step[0])
