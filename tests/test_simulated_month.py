"""October 2026 at a HIPAA clinic, driven through public interfaces only, and every figure of its
three month-end PDFs checked against numbers this file works out from its own script.

Lakeside Family Clinic (``lakeside-clinic``, America/Chicago, HIPAA): October is
[2026-10-01 05:00Z, 2026-11-01 05:00Z), CDT (UTC−5) throughout; staleness window 14 days.

Public interfaces only: the ``create_client``, ``create_api_token`` and ``generate_report``
commands; the catalogue import commands on the real files of ``../shared/realdata`` (CISA KEV,
the FIRST EPSS excerpt, MSRC CVRF November 2023, Ubuntu OSV USN-5614-1); agents push discovery
payloads to ``discovery/`` with an agent token, poll ``agent-jobs/``, report each result and push
a fresh inventory after a job changed the machine; people act through the API with their session
(SLA policy, maintenance window, ring pins, the rollout, its approvals and runbook checks, the
rollback, the exception request) and the client owner signs the deferral on the portal page with
their password. The rollout beat is the rings task itself. The PDFs are read with ``pdftotext``.

The fleet, 40 devices (the Windows 11 machines carry the hotfixes of the real 23H2 ``systeminfo``
of ``windows-hotfix/``, the Ubuntu servers the packages of the real jammy manifest):

    lfc-ws-01 … lfc-ws-30    Windows 11 23H2 workstations, 01 … 12 ePHI: missing KB5032190
    lfc-file-01              Windows Server 2022 file server (core server): missing KB5032198
    lfc-ehr-db               Windows Server 2022 EHR database (core server, ePHI): KB5032198,
                             deferred until the EHR vendor certifies it (signed by the owner)
    lfc-lnx-01 … lfc-lnx-04  Ubuntu 22.04 servers (core servers): libwayland-client0 1.20.0-1
                             (USN-5614-1, medium), upgraded by hand during the month
    lfc-mac-01 … lfc-mac-04  macOS workstations: zoom.us 5.17.0 with 6.0.2 offered (high),
                             updated by their users

The clinic's SLA policy gives critical findings 14 days on workstations and core servers (the
default windows otherwise: medium on a core server 14 days, high on a workstation 7 days). The
MSP admin pins the canary (ws-13 … ws-16, mac-01) and the pilot (ws-17 … ws-20, lnx-01, mac-02)
and re-balances: production holds the rest. One rollout of KB5032190 and KB5032198 runs through
the nightly window (22:00 local, four hours): canary the night of Oct 2, pilot Oct 4, production
(the client owner approves; the file server's snapshot first) Oct 7. Each agent runs its job a
minute after the one before. ws-14's EHR client crashes after the update: it is rolled back
through its agent on Oct 3 and its finding, open again, breaches its SLA. ws-30 goes quiet after
its production install. Every Monday 12:00Z and on Oct 31 every agent online reports.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

pytestmark = [pytest.mark.django_db, pytest.mark.realdata]

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
            http.force_login(User.objects.get(email=email))
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
        from tests.conftest import PASSWORD

        owner = clinic.people[OWNER]
        page = owner.get(f"{PORTAL}{clinic.exception}/").content.decode()
        clinic.signed_sha256 = re.search(r"\b[0-9a-f]{64}\b", page).group(0)
        response = owner.post(
            f"{PORTAL}{clinic.exception}/",
            {"decision": "sign", "password": PASSWORD, "text_sha256": clinic.signed_sha256},
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

    def goes_quiet() -> None:
        machines[QUIET].online = False

    steps: list[tuple[datetime, Callable[[], Any]]] = [
        (SETUP, setup),
        (FIRST_REPORT, clinic.push),
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


# --- what the script leaves behind, worked out from it --------------------------------------------


@dataclass(frozen=True)
class Expected:
    """One finding as the script leaves it at the end of October."""

    host: str
    patch: str
    tier: str
    os: str
    asset_class: str
    detected: datetime
    due: datetime
    verified: datetime | None
    deployed: datetime | None
    excepted: bool
    risk: Decimal
    cves: frozenset[str]
    kev: tuple[str, ...]
    cvss: str | None
    epss: Decimal | None

    @property
    def ephi(self) -> bool:
        return self.host in EPHI


@dataclass(frozen=True)
class Catalogue:
    kev: frozenset[str]
    kev_as_of: datetime
    epss: dict[str, Decimal]
    epss_as_of: datetime
    msrc_as_of: datetime
    osv_as_of: datetime
    kb_cves: dict[str, frozenset[str]]
    kb_cvss: dict[str, str]


def read_catalogue(realdata: Path) -> Catalogue:
    """What the real files say: KEV's CVEs, EPSS scores, each KB's CVEs and best CVSS score
    for its product, and the as-of date each file states."""
    kev = json.loads((realdata / "cisa-kev/known_exploited_vulnerabilities.json").read_text())
    epss_lines = (realdata / "epss/epss_scores-current.excerpt.csv").read_text().splitlines()
    score_date = re.search(r"score_date:(\d{4}-\d{2}-\d{2})", epss_lines[0]).group(1)
    epss = {r["cve"]: Decimal(r["epss"]) for r in csv.DictReader(epss_lines[1:])}
    ns = {
        "cvrf": "http://www.icasi.org/CVRF/schema/cvrf/1.1",
        "vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1",
        "prod": "http://www.icasi.org/CVRF/schema/prod/1.1",
    }
    root = ET.parse(realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml").getroot()
    released = root.findtext("cvrf:DocumentTracking/cvrf:CurrentReleaseDate", "", ns)
    products = {p.text: p.get("ProductID") for p in root.iter(f"{{{ns['prod']}}}FullProductName")}
    kb_cves: dict[str, set[str]] = {}
    kb_cvss: dict[str, Decimal] = {}
    for kb, product in PRODUCTS.items():
        pid = products[product]
        for v in root.findall("vuln:Vulnerability", ns):
            fixes = [
                r
                for r in v.findall("vuln:Remediations/vuln:Remediation", ns)
                if r.get("Type") == "Vendor Fix"
                and f"KB{r.findtext('vuln:Description', '', ns)}" == kb
                and pid in [p.text for p in r.findall("vuln:ProductID", ns)]
            ]
            if not fixes:
                continue
            kb_cves.setdefault(kb, set()).add(v.findtext("vuln:CVE", "", ns))
            for score_set in v.findall("vuln:CVSSScoreSets/vuln:ScoreSet", ns):
                if pid in [p.text for p in score_set.findall("vuln:ProductID", ns)]:
                    score = Decimal(score_set.findtext("vuln:BaseScore", "", ns))
                    kb_cvss[kb] = max(kb_cvss.get(kb, score), score)
    osv = json.loads((realdata / "ubuntu-osv/USN-5614-1.json").read_text())
    return Catalogue(
        kev=frozenset(v["cveID"] for v in kev["vulnerabilities"]),
        kev_as_of=datetime.fromisoformat(kev["dateReleased"]),
        epss=epss,
        epss_as_of=datetime.fromisoformat(score_date).replace(tzinfo=UTC),
        msrc_as_of=datetime.fromisoformat(released).replace(tzinfo=UTC),
        osv_as_of=datetime.fromisoformat(osv["modified"]),
        kb_cves={kb: frozenset(cves) for kb, cves in kb_cves.items()},
        kb_cvss={kb: f"{score.normalize()}" for kb, score in kb_cvss.items()},
    )


def risk_of(host: str, cvss: str | None, epss: Decimal | None, kev: bool) -> Decimal:
    """The documented formula (``findings.risk``) on the script's context."""
    score = Decimal(0)
    score += 5 * Decimal(cvss) if cvss else 0
    score += 25 * epss if epss is not None else 0
    score += 10 if host in EPHI else 0
    core = host in SERVERS or host in LINUX
    score += 5 if core else 0  # core server
    score += 5 if core else 0  # role server
    score += 5 if kev else 0
    return min(Decimal(100), score).quantize(Decimal("0.01"))


def expected_findings(cat: Catalogue) -> list[Expected]:
    out = []
    for host in WORKSTATIONS + SERVERS + LINUX + MACS:
        if host in WORKSTATIONS or host in SERVERS:
            patch = KB_WS if host in WORKSTATIONS else KB_SRV
            cves = cat.kb_cves[patch]
            kev = tuple(sorted(cves & cat.kev))
            epss = max(cat.epss[c] for c in cves if c in cat.epss)
            detected, window = FIRST_REPORT, timedelta(days=14)
            verified = INSTALLED.get(host)
            deployed = INSTALLED.get(host)
            if host == ROLLED_BACK:
                # The inventory its agent pushed after the rollback shows the KB missing
                # again: the finding is open once more, detected then, on a new clock.
                detected, verified, deployed = ROLLBACK, None, None
            tier, cvss, os_label = "critical", cat.kb_cvss[patch], "Windows"
            klass = "Workstation" if host in WORKSTATIONS else "Core server"
        elif host in LINUX:
            # No CVSS score: none of the catalogues imported (KEV, EPSS, MSRC, OSV) scores
            # CVE-2021-3782 for the catalogue; the EPSS excerpt does not list it either.
            patch, cves, kev, cvss = WAYLAND, frozenset({WAYLAND_CVE}), (), None
            epss = cat.epss.get(WAYLAND_CVE)
            detected, window, tier = FIRST_REPORT, timedelta(days=14), "medium"
            verified, deployed, os_label, klass = FIXED_BY_HAND[host], None, "Linux", "Core server"
        else:
            patch, cves, kev, epss, cvss = ZOOM, frozenset(), (), None, None
            detected, window, tier = FIRST_REPORT, timedelta(days=7), "high"
            verified, deployed, os_label, klass = FIXED_BY_HAND[host], None, "macOS", "Workstation"
        out.append(
            Expected(
                host=host,
                patch=patch,
                tier=tier,
                os=os_label,
                asset_class=klass,
                detected=detected,
                due=detected + window,
                verified=verified,
                deployed=deployed,
                excepted=host == "lfc-ehr-db",
                risk=risk_of(host, cvss, epss, bool(kev)),
                cves=cves,
                kev=kev,
                cvss=cvss,
                epss=epss,
            )  # fmt: skip
        )
    return out


def reports_of(host: str) -> list[datetime]:
    """When the script has the device's agent push a patch or package list."""
    times = [FIRST_REPORT, *WEEKLY]
    if host in INSTALLED:
        times.append(INSTALLED[host])
    if host == ROLLED_BACK:
        times.append(ROLLBACK)
    if host in FIXED_BY_HAND:
        times.append(FIXED_BY_HAND[host])
    if host == QUIET:
        times = [t for t in times if t <= INSTALLED[QUIET]]
    return sorted(times)


def last_report(host: str, moment: datetime) -> datetime | None:
    return max((t for t in reports_of(host) if t <= moment), default=None)


def reporting(host: str, moment: datetime) -> bool:
    last = last_report(host, moment)
    return last is not None and moment - last < STALE


def overdue(f: Expected, moment: datetime) -> bool:
    excepted = f.excepted and SIGNED <= moment < EXPIRES
    done = f.verified is not None and f.verified <= moment
    return f.detected <= moment and f.due < moment and not done and not excepted


@dataclass(frozen=True)
class Ratio:
    compliant: int
    in_scope: int
    not_reporting: int

    @property
    def pct(self) -> Decimal | None:
        if not self.in_scope:
            return None
        return (Decimal(self.compliant) * 100 / self.in_scope).quantize(Decimal("0.01"))


def compliance(findings: list[Expected], moment: datetime, *, tier: str = "", key=None) -> Ratio:
    """Reporting assets in scope with no overdue, un-excepted finding (of ``tier``) ÷ assets
    in scope, for the assets whose ``key`` (OS family or class label) is given."""
    by_host = {f.host: f for f in findings}
    hosts = [h for h in by_host if key is None or key(by_host[h])]
    quiet = [h for h in hosts if not reporting(h, moment)]
    bad = {
        f.host
        for f in findings
        if f.host in hosts and (not tier or f.tier == tier) and overdue(f, moment)
    }
    compliant = [h for h in hosts if h not in quiet and h not in bad]
    return Ratio(len(compliant), len(hosts), len(quiet))


def percentile(values: list[timedelta], q: float) -> timedelta:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def span(value: timedelta) -> str:
    """A duration as the reports print it: "3 d 4 h", "5 h 12 min", "40 min"."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"


def local(moment: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    value = moment.astimezone(CHICAGO)
    return f"{value.strftime(fmt)} {value.tzname()}"


def as_of(moment: datetime) -> str:
    """A report's instant as its "as of" line names it (with the zone's name)."""
    return f"{moment.astimezone(CHICAGO):%Y-%m-%d %H:%M} America/Chicago"


def pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f} %"


def chart_value(value: Decimal) -> str:
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}"


# --- reading the PDFs -----------------------------------------------------------------------------


FURNITURE = re.compile(
    rf"PatchOps · confidential|Page \d+ of \d+|{NAME} · [^\n]* · Period [-– \d]+"
)


@dataclass(frozen=True)
class Pdf:
    """A PDF's text twice: in reading order (prose, cells that wrap) without the running header
    and footer, and as printed lines with their spaces collapsed (table rows)."""

    text: str
    lines: frozenset[str]

    def rows(self, *rows: str) -> None:
        """Each row is a printed line (spaces aside: a narrow cell may print "4d1h")."""
        printed = {squash(line) for line in self.lines}
        for row in rows:
            assert squash(row) in printed, f"row {row!r} not found"


def read_pdf(path: Path) -> Pdf:
    def run(*options: str) -> str:
        return subprocess.run(
            ["pdftotext", *options, str(path), "-"], check=True, capture_output=True, text=True
        ).stdout

    pages = run().split("\f")
    header = "\n".join(p.split("\n", 1)[0] for p in pages if p.strip())
    lines = frozenset(re.sub(r"\s+", " ", line).strip() for line in run("-layout").splitlines())
    return Pdf(text=header + "\n" + FURNITURE.sub(" ", "\n".join(pages)), lines=lines)


def squash(text: str) -> str:
    """Text without whitespace and hyphens: pdftotext joins a word broken at the end of a line
    and drops the hyphen it broke at, so "lfc-ws-01" may read "lfcws-01"."""
    return re.sub(r"[\s\-\u00ad]", "", text)


def between(text: str, start: str, end: str | None = None) -> str:
    """The squashed part of ``text`` from ``start`` up to ``end``."""
    body = squash(text)
    head = body.index(squash(start))
    tail = body.index(squash(end), head) if end else len(body)
    return body[head:tail]


def contains(haystack: str, *needles: str) -> None:
    for needle in needles:
        assert squash(needle) in haystack, f"{needle!r} not found"


def in_order(haystack: str, *needles: str) -> None:
    position = 0
    for needle in needles:
        found = haystack.find(squash(needle), position)
        assert found >= 0, f"{needle!r} not found after position {position}"
        position = found + len(squash(needle))


# --- the month ------------------------------------------------------------------------------------


@pytest.fixture
def month(realdata, tmp_path, settings):
    from django.core.files import storage
    from django.utils.functional import empty

    from tenants.choices import MembershipRole
    from tenants.models import Client, User
    from tenants.services import add_membership
    from tests.conftest import PASSWORD

    settings.MEDIA_ROOT = str(tmp_path / "media")
    storage.storages._storages = {}
    storage.default_storage._wrapped = empty
    with time_machine.travel(at(28, 9, month=9), tick=False):
        call_command(
            "create_client", SLUG, "--name", NAME, "--timezone", "America/Chicago", "--hipaa",
            stdout=io.StringIO(),
        )  # fmt: skip
        # Users are made by hand (Django admin) in production too.
        owner = User.objects.create_user(email=OWNER, password=PASSWORD)
        add_membership(
            user=owner, client=Client.objects.get(slug=SLUG), role=MembershipRole.CLIENT_OWNER
        )
        out = io.StringIO()
        call_command(
            "create_api_token", "--name", "lakeside-agents", "--client", SLUG,
            "--scope", "agent", stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
    clinic = Clinic(realdata, out.getvalue().strip())
    for moment, action in script(clinic, realdata):
        with time_machine.travel(moment, tick=False):
            action()
    texts = {}
    with time_machine.travel(REPORTED_AT, tick=False):
        for kind in ("monthly", "hipaa", "qbr"):
            target = tmp_path / f"{kind}.pdf"
            call_command(
                "generate_report", SLUG, "--kind", kind, "--period", "2026-10",
                "--out", str(target), stdout=io.StringIO(),
            )  # fmt: skip
            texts[kind] = read_pdf(target)
    yield {"clinic": clinic, "texts": texts, "catalogue": read_catalogue(realdata)}
    storage.storages._storages = {}
    storage.default_storage._wrapped = empty


def test_a_month_at_a_hipaa_clinic(month):
    clinic, texts, cat = month["clinic"], month["texts"], month["catalogue"]
    findings = expected_findings(cat)
    assert len(findings) == 40
    check_every_report(texts, cat)
    check_chain_heads(texts, clinic)
    check_monthly(texts["monthly"], findings)
    check_hipaa(texts["hipaa"], findings, clinic)
    check_qbr(texts["qbr"], findings)


# --- the figures ----------------------------------------------------------------------------------


def check_every_report(texts: dict[str, Pdf], cat: Catalogue) -> None:
    def age(as_of: datetime) -> str:
        days = (REPORTED_AT - as_of).days
        return f"{days} day{'s' if days != 1 else ''} old"

    footnote = (
        f"Vulnerability data as of: CISA KEV {cat.kev_as_of:%Y-%m-%d} ({age(cat.kev_as_of)}); "
        f"FIRST EPSS {cat.epss_as_of:%Y-%m-%d} ({age(cat.epss_as_of)}); "
        f"MSRC CVRF {cat.msrc_as_of:%Y-%m-%d} ({age(cat.msrc_as_of)}); "
        f"OSV {cat.osv_as_of:%Y-%m-%d} ({age(cat.osv_as_of)})."
    )
    titles = {
        "monthly": ("Monthly compliance report", "2026-10", "1 Oct 2026 – 31 Oct 2026"),
        "hipaa": ("HIPAA-aligned evidence pack", "2026-10", "1 Oct 2026 – 31 Oct 2026"),
        "qbr": ("QBR executive summary", "2026-08 – 2026-10", "1 Aug 2026 – 31 Oct 2026"),
    }
    for kind, pdf in texts.items():
        title, period, days = titles[kind]
        body = squash(pdf.text)
        contains(body, f"{NAME} · {title} · Period {period}", footnote)
        contains(body, f"{NAME} · period {period} ({days}, America/Chicago) · generated "
                       f"{local(REPORTED_AT)}")  # fmt: skip


def event_hash(clinic: Clinic, sequence: int) -> str:
    """The hash of event #``sequence`` as the evidence log's API gives it."""
    path = f"evidence/?ordering=sequence&limit=1&offset={sequence - 1}"
    [event] = clinic.call(ENGINEER, "get", path)["results"]
    assert event["sequence"] == sequence
    return event["hash"]


def check_chain_heads(texts: dict[str, Pdf], clinic: Clinic) -> None:
    """Each PDF names the chain head it was generated at: an event of the client's log, later
    for each report generated after another (generating a report is itself recorded)."""
    heads = []
    for kind in ("monthly", "hipaa", "qbr"):
        found = re.search(
            r"Evidence chain head at generation: event #(\d+), SHA-256 ([0-9a-f]{64})",
            re.sub(r"\s+", " ", texts[kind].text),
        )
        assert found, kind
        sequence, digest = int(found.group(1)), found.group(2)
        assert event_hash(clinic, sequence) == digest
        heads.append(sequence)
    assert heads == sorted(set(heads))


def rollout_lines(findings: list[Expected]) -> list[str]:
    deployed = {ring: len(installs(ring)) for ring in RINGS}
    waves = " ".join(f"{RING_NAMES[r]}: passed, {deployed[r]} / 0" for r in RINGS)
    return [
        "1 rollout was under way in the period.",
        f"October cumulative updates Created {local(ROLLOUT_CREATED)} · {KB_WS}, {KB_SRV}",
        f"Completed {local(SOAK_OVER['production'])} {waves} Deployed Failed "
        f"{sum(deployed.values())} 0",
        f"Rollback {local(ROLLBACK)} by {ENGINEER}: {ROLLBACK_WHAT} — Succeeded, 1 device",
    ]


def ratio_row(label: str, r: Ratio) -> str:
    return f"{label} {r.compliant} {r.in_scope} {r.not_reporting} {pct(r.pct)}"


OS_LABELS = ("Windows", "macOS", "Linux")
TIERS = ("critical", "high", "medium", "low")


def check_monthly(pdf: Pdf, findings: list[Expected]) -> None:
    end, text = PERIOD_END, pdf.text
    headline = compliance(findings, end)
    assert (headline.compliant, headline.in_scope, headline.not_reporting) == (38, 40, 1)
    due = [f for f in findings if PERIOD_START <= f.due < end]
    on_time = [f for f in due if f.verified is not None and f.verified <= f.due]
    sla = Ratio(len(on_time), len(due), 0)
    attempted = sum(len(installs(r)) for r in RINGS)
    body = squash(text)
    contains(body, f"Point-in-time figures as of {as_of(end)}, the end of the period.")
    # The stat boxes: values first, then their labels.
    contains(
        body,
        f"{pct(headline.pct)} {headline.not_reporting} {pct(sla.pct)} 1 0.00 % "
        f"Compliance % ({headline.compliant} of {headline.in_scope} assets) Not reporting (no "
        f"patch list for 14 days) SLA attainment ({sla.compliant} of {sla.in_scope} due) Active "
        "exceptions Patch failure rate",
    )
    by_os = {os: compliance(findings, end, key=lambda f, o=os: f.os == o) for os in OS_LABELS}
    section = between(text, "Compliance by OS family", "Compliance by tier")
    contains(section, f"The headline {pct(headline.pct)} is never the only figure")
    contains(section, *(f"{os} {chart_value(r.pct)} %" for os, r in by_os.items()))
    pdf.rows(*(ratio_row(os, r) for os, r in by_os.items()))
    by_tier = {t: compliance(findings, end, tier=t) for t in TIERS}
    section = between(text, "Compliance by tier", "Compliance by asset class")
    contains(section, *(f"{t.title()} {chart_value(r.pct)} %" for t, r in by_tier.items()))
    pdf.rows(*(ratio_row(t.title(), r) for t, r in by_tier.items()))
    by_class = {
        c: compliance(findings, end, key=lambda f, k=c: f.asset_class == k)
        for c in ("Core server", "Workstation")
    }
    pdf.rows(*(ratio_row(c, r) for c, r in by_class.items()))
    assert by_class["Workstation"].pct == Decimal("94.12")

    section = between(text, "Assets not reporting", "SLA attainment")
    contains(section, f"1 asset in scope sent no patch or package list in the 14 days before "
                      f"{as_of(end)}")  # fmt: skip
    pdf.rows(f"{QUIET} Windows Workstation {local(last_report(QUIET, end))}")

    section = between(text, "SLA attainment", "Exceptions active with aging")
    contains(section, f"{sla.compliant} of {sla.in_scope} findings due in the period were "
                      f"verified by their due time: SLA attainment {pct(sla.pct)}.")  # fmt: skip
    for tier in ("critical", "high", "medium"):
        due_t = [f for f in due if f.tier == tier]
        ok_t = [f for f in on_time if f.tier == tier]
        pdf.rows(
            f"{tier.title()} {len(ok_t)} {len(due_t)} {pct(Ratio(len(ok_t), len(due_t), 0).pct)}"
        )

    section = between(text, "Exceptions active with aging", "Time to remediate")
    aging, left = (end - SIGNED).days, (EXPIRES - end).days
    contains(
        section,
        f"1 active exception covering 1 outstanding finding; the oldest began {aging} days ago "
        f"and the next hard expiry is in {left} days.",
        "PSA-2231 v1 Deferral Active lfc-ehr-db",
        "Extra monitoring: EDR alerts reviewed daily.",
        "Network segmentation: EHR database on VLAN 40, no internet access.",
        f"{OWNER} Aging (days) Days to expiry {aging} {left} Hard expiry {local(EXPIRES)}",
    )

    verified = [f for f in findings if f.verified and PERIOD_START <= f.verified < end]
    for tier in ("critical", "high", "medium"):
        spans = [f.verified - f.detected for f in verified if f.tier == tier]
        median, p90 = percentile(spans, 0.5), percentile(spans, 0.9)
        assert median == statistics.median(spans)
        pdf.rows(f"{tier.title()} {len(spans)} {span(median)} {span(p90)}")

    contains(squash(text), f"0 failed of {attempted} attempted deployments: failure rate 0.00 %.")
    pdf.rows(*(f"{RING_NAMES[r]} 0 {len(installs(r))} 0.00 %" for r in RINGS))

    section = between(text, "Rollouts", "Top remediated risks")
    in_order(section, *rollout_lines(findings))

    section = between(text, "Top remediated risks")
    top = sorted(verified, key=lambda f: (TIERS.index(f.tier), -f.risk, f.verified, f.host))[:10]
    assert [f.host for f in top] == WORKSTATIONS[:10]  # ePHI first, installed in that order
    contains(section, f"{len(verified)} findings verified as fixed in the period; the riskiest 10:")
    for f in top:
        ephi = " ePHI" if f.ephi else ""
        head = squash(f"{f.host}{ephi} {f.patch} {f.tier.title()} · KEV {f.risk}")
        tail = squash(f"{local(f.detected)} {local(f.verified)}")
        found = re.search(re.escape(head) + r"((?:CVE\d+,)*CVE\d+)" + re.escape(tail), section)
        assert found, f"top remediated row of {f.host}"
        assert set(found.group(1).split(",")) == {squash(c) for c in f.cves}
    rows = [section.index(squash(f"{f.host}{' ePHI' if f.ephi else ''}{f.patch}")) for f in top]
    assert rows == sorted(rows)


def check_hipaa(pdf: Pdf, findings: list[Expected], clinic: Clinic) -> None:
    end, text = PERIOD_END, pdf.text
    ephi = sorted(h for h in EPHI)
    outstanding = [f for f in findings if not (f.verified and f.verified <= end)]
    complete = [f for f in findings if f.deployed and f.verified]
    assert len(complete) == 30 and len(outstanding) == 2
    body = squash(text)
    contains(
        body,
        "kept patched during October 2026",
        f"Point-in-time artefacts are taken as of {as_of(end)}.",
        f"1. ePHI asset inventory {len(ephi)} ePHI systems of 40 managed assets in scope",
        f"2. Risk-based prioritization log {len(outstanding)} findings outstanding",
        f"3. Patch evidence chain {len(complete)} of {len(findings)} findings with detection",
        "4. Compensating controls register 1 signed exception in force during the period",
    )
    # The chain head and the events: the evidence log's own API says the same.
    head = re.search(r"log held (\d+) events; recomputing every hash confirmed the chain is "
                     r"intact\. Head event #(\d+) Head hash \(SHA-256\) ([0-9a-f]{64})",
                     re.sub(r"\s+", " ", text))  # fmt: skip
    assert head and head.group(1) == head.group(2)
    sequence, digest = int(head.group(2)), head.group(3)
    assert event_hash(clinic, sequence) == digest
    contains(body, f"Evidence log head: event #{sequence}, hash {digest}")

    section = between(text, "ePHI asset inventory 13 systems", "Risk-based prioritization log")
    contains(section, f"{len(ephi)} systems create, receive, store or transmit",
             f"Windows {len(ephi)}")  # fmt: skip
    for host in ephi:
        system = ("Microsoft Windows Server 2022 Standard 10.0.20348 Core server Server"
                  if host in SERVERS else
                  "Microsoft Windows 11 Enterprise 10.0.22631 Workstation Workstation")  # fmt: skip
        contains(section, f"{host} Windows · {system} {local(last_report(host, end))}")

    section = between(text, "Risk-based prioritization log Findings outstanding", "Patch evidence")
    contains(section, f"{len(outstanding)} findings outstanding.")
    first, second = sorted(outstanding, key=lambda f: f.excepted)  # uncovered work first

    def reason(f: Expected) -> str:
        context = "; ePHI system; core server; role server" if f.excepted else ""
        late = f"overdue by {span(end - f.due)}"
        return (
            f"tier critical (raised: {', '.join(f.kev)} in CISA KEV); CVSS {f.cvss}; "
            f"EPSS {f.epss:.4f}{context}; risk score {f.risk}; {late}"
        )

    until = f"excepted until {local(EXPIRES)}"
    in_order(
        section,
        f"1 {first.host} {first.patch} Critical {first.risk} {local(first.due)} {reason(first)}",
        f"2 {second.host} {second.patch} Critical {until} {second.risk} {local(second.due)} "
        f"{reason(second)}; {until}, ranked after uncovered work",
    )
    assert first.kev == ("CVE-2023-36025", "CVE-2023-36033", "CVE-2023-36036")

    section = between(text, "Patch evidence chain Detection", "Rollouts in the period")
    contains(section, f"{len(complete)} of {len(findings)} findings have a complete chain.")
    listing = clinic.call(ENGINEER, "get", "findings/?limit=100")["results"]
    ids = {(item["asset"]["hostname"], item["patch_identifier"]): item["id"] for item in listing}
    assert len(ids) == len(findings)
    for f in findings:
        chain = clinic.call(ENGINEER, "get", f"findings/{ids[(f.host, f.patch)]}/chain/")
        assert chain["complete"] is (f in complete)
        detected = f"{local(FIRST_REPORT)} #{chain['detection']['sequence']}"
        if f.deployed:
            [attempt] = chain["deployments"]
            deployed = f"{local(f.deployed)} #{attempt['event']['sequence']}"
            verified = f"{local(f.verified)} #{chain['verification']['sequence']}"
        elif f.host == ROLLED_BACK:  # deployed, rolled back, open again: no verification
            [attempt] = chain["deployments"]
            deployed = f"{local(INSTALLED[f.host])} #{attempt['event']['sequence']}"
            verified = "—"
        else:
            deployed = "—"
            verified = (
                f"{local(f.verified)} #{chain['verification']['sequence']}" if f.verified else "—"
            )
        contains(section, f"{f.host} {f.patch} {f.tier.title()} {detected} {deployed} {verified}")

    section = between(text, "Rollouts in the period", "Compensating controls register")
    in_order(section, *rollout_lines(findings))

    section = between(text, "Compensating controls register 1 exception")
    contains(
        section,
        f"1 exception in force during the period (1 still active at {as_of(end)}).",
        "PSA-2231 · Deferral · version 1 · Active",
        "Reason The EHR vendor certifies the November update on its database server first.",
        "Scope Assets: lfc-ehr-db",
        f"PSA ticket PSA-2231 Requested by {ENGINEER} Approver {OWNER}",
        f"Signed at {local(SIGNED, '%Y-%m-%d %H:%M:%S')} by {OWNER}",
        f"Signed text SHA-256 {clinic.signed_sha256}",
        f"In force {local(SIGNED)} → hard expiry {local(EXPIRES)}; {(EXPIRES - SIGNED).days} days",
    )


def check_qbr(pdf: Pdf, findings: list[Expected]) -> None:
    end, text = PERIOD_END, pdf.text
    score = compliance(findings, end)
    due = [f for f in findings if QUARTER_START <= f.due < end]
    on_time = [f for f in due if f.verified is not None and f.verified <= f.due]
    sla = Ratio(len(on_time), len(due), 0)
    verified = [f for f in findings if f.verified and QUARTER_START <= f.verified < end]
    open_critical = [f for f in findings if f.tier == "critical" and f.verified is None]
    # The weekly trend: the end of each week (Monday 00:00 local) with assets, then the end.
    weeks = [at(5, 5) + timedelta(weeks=n) for n in range(4)]
    points = [(t, compliance(findings, t)) for t in [*weeks, end]]
    assert [p.pct for _, p in points] == [100, 100, Decimal("97.50"), 95, 95]
    first = points[0]
    change = score.pct - first[1].pct
    body = squash(text)
    contains(body, "This summary covers August – October 2026; its figures are taken as of "
                   f"{as_of(end)}, the end of the quarter.")  # fmt: skip
    contains(
        body,
        f"{pct(score.pct)} {score.not_reporting} {pct(sla.pct)} {len(verified)} 1 "
        f"Compliance score ({score.compliant} of {score.in_scope} systems) Systems not reporting "
        "Patches on time this quarter Fixes verified this quarter Approved exceptions",
    )
    for os in OS_LABELS:
        pdf.rows(ratio_row(os, compliance(findings, end, key=lambda f, o=os: f.os == o)))
    first_day = (first[0] - timedelta(microseconds=1)).astimezone(CHICAGO)
    contains(
        body,
        f"At the end of the quarter, {score.compliant} of your {score.in_scope} managed systems "
        f"reported their updates and had every security update installed within the agreed "
        f"time: a compliance score of {pct(score.pct)}. That is down {-change:.2f} points from "
        f"{pct(first[1].pct)} on {first_day.day} {first_day:%B}. 1 system sent no update list "
        f"for 14 days; until it reports again we cannot vouch for it, so it counts against the "
        f"score. {sla.compliant} of the {sla.in_scope} updates that fell due this quarter were "
        f"installed and confirmed on time ({pct(sla.pct)}). {len(open_critical)} critical "
        "updates are still open and being worked first.",
    )
    section = between(text, "Compliance score and its trend", "The score is the share")
    day = [(t - timedelta(microseconds=1)).astimezone(CHICAGO) for t, _ in points]
    contains(section, *(f"{d:%d %b}" for d in day))
    in_order(section, *(f"{chart_value(p.pct)} %" for _, p in points))
    for tier in TIERS:
        r = compliance(findings, end, tier=tier)
        pdf.rows(f"{tier.title()} {r.compliant} {r.in_scope} {pct(r.pct)}")
    section = between(text, "Systems not reporting 1 asset", "Top risks reduced")
    contains(section, f"1 asset in scope sent no patch or package list in the 14 days before "
                      f"{as_of(end)}")  # fmt: skip
    pdf.rows(f"{QUIET} Windows Workstation {local(last_report(QUIET, end))}")

    section = between(text, "Top risks reduced this quarter", "Update rollouts this quarter")
    critical = [f for f in verified if f.tier == "critical"]
    in_order(
        section,
        f"{len(critical)} critical Windows updates closed on {len(critical)} systems "
        f"({sum(f.ephi for f in critical)} of them ePHI systems); {len(critical)} fixed a flaw "
        "attackers are known to exploit (CISA KEV).",
        "4 high macOS updates closed on 4 systems.",
        "4 medium Linux updates closed on 4 systems.",
    )
    for tier in ("critical", "high", "medium"):
        spans = [f.verified - f.detected for f in verified if f.tier == tier]
        pdf.rows(f"{tier.title()} {len(spans)} {span(percentile(spans, 0.5))} "
                 f"{span(percentile(spans, 0.9))}")  # fmt: skip

    section = between(text, "Update rollouts this quarter", "Approved exceptions and their")
    in_order(section, *rollout_lines(findings))
    section = between(text, "Approved exceptions and their expiry dates")
    contains(
        section,
        "PSA-2231 lfc-ehr-db",
        "Extra monitoring",
        "Network segmentation",
        f"Days active {(end - SIGNED).days}",
        f"Expires 30 November 2026 18:00 CST ({(EXPIRES - end).days} days left)",
    )
