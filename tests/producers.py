"""Test inputs built the way production builds them.

* Devices report through ingest (``inventory.services.run_ingest``, what the discovery API and
  ``manage.py ingest`` call) or through the discovery API itself; findings are opened, re-tiered
  and verified by that ingest, never written by hand.
* CVSS, EPSS and KEV come from small documents in the real feed formats, imported through the
  catalogue's importers (``catalogue.services.run_import``).
* Rollouts go through the rings services; every deployment is an agent job whose result the
  agent reports (through the agent-job API when a client is given, else the same service).
* Network scans go through ``run_reconcile``; adopting a device through ``adopt_unknown_device``.
* Exceptions through the register's services (``tests.exceptions_register.factories``).

Times: every producer acts at ``timezone.now()``; wrap calls in ``time_machine.travel`` to place
them in the scenario's timeline.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from inventory.choices import AssetSource, DiscoveryRunSource
from tests.mfa import sign_in

AGENT = "token:test-agent"

OS = {
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
    "macos": {"name": "macOS", "version": "14.6.1", "platform": "darwin"},
}


@dataclass
class Device:
    """One device as its agent sees it; ``payload()`` is what the agent pushes."""

    hostname: str
    os: str = "windows"
    agent_id: str = ""
    ephi: bool | None = None
    role: str | None = None
    asset_class: str | None = None
    hotfixes: list[str] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    programs: dict[str, str] = field(default_factory=lambda: {"Google Chrome": "130.0.6723.59"})
    mac: str = ""
    ip: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)  # more of ``patchops``: owner…
    # The OS's own install records the agent's collector read (``os_install_records``);
    # None: not collected (the key is left out of the payload).
    os_records: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.agent_id = self.agent_id or f"agent-{self.hostname}"

    # --- what changes on the device -------------------------------------------------------------

    def missing_kb(self, kb: str, *, cves: Sequence[str] = (), severity: str = "high") -> Device:
        """Windows Update reports ``kb`` as available."""
        self.pending.append(
            {
                "name": f"Security update {kb}",
                "source": "windows_update",
                "advisory": kb,
                "cves": list(cves),
                "severity": severity,
                "reboot_required": True,
            }
        )
        return self

    def missing_package(
        self,
        name: str,
        fixed: str,
        *,
        advisory: str = "",
        cves: Sequence[str] = (),
        severity: str = "medium",
        source: str = "apt",
    ) -> Device:
        """The package manager reports a newer ``name`` (``fixed``) as available."""
        self.pending.append(
            {
                "name": name,
                "installed_version": self.packages.get(name, ""),
                "available_version": fixed,
                "source": source,
                "advisory": advisory,
                "cves": list(cves),
                "severity": severity,
            }
        )
        return self

    def install_kb(self, kb: str) -> Device:
        """The KB is installed (by a deployment or by hand): no longer pending."""
        self.hotfixes.append(kb)
        self.pending = [p for p in self.pending if p.get("advisory") != kb]
        return self

    def upgrade(self, name: str, version: str) -> Device:
        self.packages[name] = version
        self.pending = [p for p in self.pending if p.get("name") != name]
        return self

    def fix(self, patch: str) -> Device:
        """Whatever ``patch`` names is installed: the KB on Windows, the offered version of
        the package elsewhere (its next inventory shows the fix)."""
        if self.os.startswith("windows"):
            return self.install_kb(patch)
        for update in [p for p in self.pending if p.get("advisory") == patch]:
            self.upgrade(update["name"], update.get("available_version", ""))
        return self

    # --- the pushed document ----------------------------------------------------------------------

    def payload(self, *, collected_at: Any = None) -> dict[str, Any]:
        when = collected_at or timezone.now()
        body: dict[str, Any] = {
            "agent_id": self.agent_id,
            "collected_at": when.isoformat().replace("+00:00", "Z"),
            "system_info": {"hostname": self.hostname, "hardware_serial": f"SN-{self.hostname}"},
            "os_version": OS[self.os],
            "pending_updates": list(self.pending),
        }
        if self.mac or self.ip:
            body["interface_addresses"] = [{"interface": "eth0", "address": self.ip}]
            body["interface_details"] = [{"interface": "eth0", "mac": self.mac}]
        if self.os.startswith("windows"):
            body["patches"] = [
                {"hotfix_id": kb, "description": "Security Update"} for kb in self.hotfixes
            ]
            body["programs"] = [{"name": n, "version": v} for n, v in self.programs.items()]
        elif self.os == "ubuntu":
            body["deb_packages"] = [
                {"name": n, "version": v, "arch": "amd64"} for n, v in self.packages.items()
            ]
        elif self.os == "macos":
            body["apps"] = [
                {"name": "Safari", "bundle_identifier": "com.apple.Safari",
                 "bundle_short_version": "17.6"}
            ] + [
                {"name": n, "bundle_identifier": f"com.example.{n.lower().replace(' ', '')}",
                 "bundle_short_version": v}
                for n, v in self.packages.items()
            ]  # fmt: skip
        attributes = {
            k: v
            for k, v in (
                ("ephi", self.ephi),
                ("role", self.role),
                ("asset_class", self.asset_class),
            )
            if v is not None
        } | self.attributes
        if attributes:
            body["patchops"] = attributes
        if self.os_records is not None:
            body["os_install_records"] = list(self.os_records)
        return body

    @property
    def asset(self) -> Any:
        from inventory.models import Asset

        return Asset.objects.get(agent_id=self.agent_id)


def push(devices: Device | Iterable[Device], *, actor: Any = AGENT) -> Any:
    """The agents push their payloads now (``run_ingest``, as the discovery API does).

    A ``Device``'s role, class and ePHI flag are applied as an operator's import applies them
    (``business_attributes``): the scenario's fleet is set up in one call. A device's own push
    through the API never sets them (``push_api``; ``tests/inventory/test_agent_attributes.py``)."""
    from inventory.services import run_ingest

    batch = [devices] if isinstance(devices, Device) else list(devices)
    now = timezone.now()
    _, summary = run_ingest(
        data=[d.payload(collected_at=now) for d in batch],
        source=AssetSource.AGENT,
        run_source=DiscoveryRunSource.AGENT,
        source_name="test agents",
        fmt="osquery",
        actor=actor,
        business_attributes=True,
    )
    return summary


_SEQUENCE = itertools.count(1)


def reported_asset(hostname: str = "", **device: Any) -> Any:
    """A device whose agent reported once, now, with nothing missing: its asset (``device``
    takes ``Device``'s fields: ``os``, ``asset_class``, ``role``, ``ephi``...)."""
    reporter = Device(hostname or f"pc-{next(_SEQUENCE):04d}", **device)
    push(reporter)
    return reporter.asset


def reported_finding(
    device: Device | None = None,
    *,
    kb: str = "",
    severity: str = "high",
    cves: Sequence[str] = (),
) -> Any:
    """``device`` (default: a new Windows PC) reports ``kb`` (default: a new KB) pending now;
    ingest opens the finding, which is returned. Keep the ``Device`` to report more about the
    same machine: each push is the machine's whole state."""
    from findings.models import Finding

    device = device or Device(f"pc-{next(_SEQUENCE):04d}")
    kb = kb or f"KB59{next(_SEQUENCE):05d}"
    push(device.missing_kb(kb, cves=cves, severity=severity))
    return Finding.objects.select_related("asset").get(
        asset__agent_id=device.agent_id, patch_identifier=kb
    )


def push_api(http: Any, devices: Device | Iterable[Device], *, slug: str = "tenant-a") -> Any:
    """Push through ``POST discovery/`` with the agent token ``http`` carries."""
    batch = [devices] if isinstance(devices, Device) else list(devices)
    now = timezone.now()
    response = http.post(
        f"/clients/{slug}/api/v1/discovery/",
        json.dumps([d.payload(collected_at=now) for d in batch]),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def tag_ephi(http: Any, devices: Iterable[Device], *, slug: str = "tenant-a") -> None:
    """A person (``http`` carries the session) marks these devices' assets as ePHI systems on
    the assets API (``POST assets/bulk-tag/``): people decide it, never the device's agent."""
    from django_tenants.utils import tenant_context

    from tenants.models import Client

    with tenant_context(Client.objects.get(slug=slug)):
        ids = [str(d.asset.uuid) for d in devices]
    response = http.post(
        f"/clients/{slug}/api/v1/assets/bulk-tag/",
        json.dumps({"assets": ids, "is_ephi": True}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


class Office:
    """A fleet whose agents report through ingest; ``office()`` builds it."""

    LINUX_PATCH = "USN-6854-1"
    MAC_PATCH = "macOS-14.7.1"

    def __init__(self, devices: Sequence[Device], patch: str) -> None:
        self.devices = list(devices)
        self.patch = patch

    def device(self, asset: Any) -> Device:
        return next(d for d in self.devices if d.agent_id == asset.agent_id)

    @property
    def assets(self) -> list[Any]:
        from inventory.models import Asset

        by_agent = {
            a.agent_id: a
            for a in Asset.objects.select_related("asset_class").filter(
                agent_id__in=[d.agent_id for d in self.devices]
            )
        }
        return [by_agent[d.agent_id] for d in self.devices]

    @property
    def findings(self) -> list[Any]:
        """The findings every device's report opened, in the devices' order."""
        from findings.models import Finding

        order = {d.agent_id: i for i, d in enumerate(self.devices)}
        found = Finding.objects.select_related("asset").filter(asset__agent_id__in=list(order))
        return sorted(found, key=lambda f: order[f.asset.agent_id])

    def fixed(
        self, assets: Iterable[Any], patches: Iterable[str] = (), *, actor: Any = AGENT
    ) -> Any:
        """These devices installed ``patches`` (default: the office's patch on Windows, its
        own update elsewhere); their agents push the inventory that shows it (what verifies a
        deployment)."""
        wanted = set(patches)
        devices = []
        for asset in assets:
            device = self.device(asset)
            offered = {p.get("advisory") for p in device.pending}
            for patch in (wanted or offered) & offered:
                device.fix(patch)
            devices.append(device)
        return push(devices, actor=actor) if devices else None

    def verify_wave(self, wave: Any) -> Any:
        """The next inventory of the wave's deployed devices shows the rollout's patches
        installed."""
        from rings.choices import DeploymentStatus

        deployed = [r.asset for r in wave.results.filter(status=DeploymentStatus.DEPLOYED)]
        return self.fixed(deployed, wave.rollout.patch_identifiers)


def office(patch: str = "KB5030001", *, severity: str = "critical") -> Office:
    """Twenty devices report their missing updates through ingest (which opens their findings
    and places them in rings): twelve Windows workstations, a Windows file server (a core
    server) and two do-not-disrupt Windows PCs miss ``patch``; three Ubuntu servers (core
    servers) miss an OpenSSL update (``USN-6854-1``), two Macs a macOS update
    (``macOS-14.7.1``), all of ``severity``."""
    devices = (
        [Device(f"ws-{i:02d}") for i in range(1, 13)]
        + [Device(f"lnx-{i:02d}", os="ubuntu", role="server") for i in range(1, 4)]
        + [Device(f"mac-{i:02d}", os="macos") for i in range(1, 3)]
        + [Device("fs-01", os="windows_server")]
        + [Device(f"dnd-{i:02d}", asset_class="do_not_disrupt") for i in range(1, 3)]
    )
    for device in devices:
        if device.os.startswith("windows"):
            device.missing_kb(patch, severity=severity)
        elif device.os == "ubuntu":
            device.packages["openssl"] = "3.0.2-0ubuntu1.15"
            device.missing_package(
                "openssl", "3.0.2-0ubuntu1.16", advisory=Office.LINUX_PATCH, severity=severity
            )
        else:
            device.missing_package(
                "macOS Sonoma 14.7.1",
                "14.7.1",
                advisory=Office.MAC_PATCH,
                severity=severity,
                source="softwareupdate",
            )
    push(devices)
    return Office(devices, patch)


def maintenance_window(
    *, actor: str = "admin@msp.test", slug: str | None = None, **fields: Any
) -> Any:
    """An MSP admin adds a maintenance window through ``maintenance-windows/``; ``fields``
    override an every-day 22:00 window of four hours (``start_time`` as "HH:MM")."""
    from django.db import connection
    from django.test import Client as HttpClient

    from rings.models import MaintenanceWindow
    from tenants.models import User

    tenant = connection.tenant
    body: dict[str, Any] = {
        "name": f"Window {MaintenanceWindow.objects.count() + 1}",
        "scope": "client",
        "recurrence": "weekly",
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "start_time": "22:00",
        "duration_minutes": 240,
        **fields,
    }
    http = HttpClient()
    sign_in(http, User.objects.get(email=actor))
    response = http.post(
        f"/clients/{slug or tenant.slug}/api/v1/maintenance-windows/",
        json.dumps(body),
        content_type="application/json",
    )
    if getattr(tenant, "schema_name", "public") != "public":
        connection.set_tenant(tenant)
    assert response.status_code == 201, response.content
    return MaintenanceWindow.objects.get(uuid=response.json()["id"])


# --- catalogue ------------------------------------------------------------------------------------


def load_catalogue(
    folder: Path,
    *,
    kev: Iterable[str] = (),
    cvss: dict[str, str] | None = None,
    epss: dict[str, str] | None = None,
) -> None:
    """Write KEV (JSON), NVD API 2.0 and EPSS (CSV) documents and import them."""
    from catalogue.services import run_import

    folder.mkdir(parents=True, exist_ok=True)
    kev = list(kev)
    if kev:
        doc = {
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": "2024.10.15",
            "count": len(kev),
            "vulnerabilities": [
                {
                    "cveID": cve,
                    "vendorProject": "Microsoft",
                    "product": "Windows",
                    "vulnerabilityName": f"{cve} vulnerability",
                    "dateAdded": "2024-10-15",
                    "shortDescription": "Exploited in the wild.",
                    "requiredAction": "Apply mitigations per vendor instructions.",
                    "dueDate": "2024-11-05",
                    "knownRansomwareCampaignUse": "Unknown",
                    "notes": "",
                    "cwes": [],
                }
                for cve in kev
            ],
        }
        (folder / "kev.json").write_text(json.dumps(doc))
        run_import(kind="kev", path=folder / "kev.json")
    if cvss:
        doc = {
            "format": "NVD_CVE",
            "version": "2.0",
            "vulnerabilities": [
                {
                    "cve": {
                        "id": cve,
                        "published": "2024-06-11T17:15:00.000",
                        "lastModified": "2024-07-01T00:00:00.000",
                        "vulnStatus": "Analyzed",
                        "descriptions": [{"lang": "en", "value": f"{cve} description"}],
                        "metrics": {
                            "cvssMetricV31": [
                                {
                                    "source": "nvd@nist.gov",
                                    "type": "Primary",
                                    "cvssData": {"version": "3.1", "vectorString": vector},
                                }
                            ]
                        },
                    }
                }
                for cve, vector in cvss.items()
            ],
        }
        (folder / "nvd.json").write_text(json.dumps(doc))
        run_import(kind="nvd", path=folder / "nvd.json")
    if epss:
        lines = ["#model_version:v2025.03.14,score_date:2024-10-01T00:00:00+0000"]
        lines += ["cve,epss,percentile"] + [f"{c},{s},0.5" for c, s in epss.items()]
        (folder / "epss.csv").write_text("\n".join(lines) + "\n")
        run_import(kind="epss", path=folder / "epss.csv")


# --- rollouts and agent jobs ---------------------------------------------------------------------


def all_day_window(http: Any, *, slug: str = "tenant-a") -> None:
    """An MSP admin adds a maintenance window open every day, all day (through the API)."""
    response = http.post(
        f"/clients/{slug}/api/v1/maintenance-windows/",
        json.dumps(
            {
                "name": "Any time",
                "scope": "client",
                "recurrence": "weekly",
                "weekdays": [0, 1, 2, 3, 4, 5, 6],
                "start_time": "00:00",
                "duration_minutes": 1440,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content


def job_result(job: Any, *, succeeded: bool, message: str = "0x80070643") -> dict[str, Any]:
    """The body an agent posts to ``agent-jobs/<id>/result/``."""
    return {
        "agent_id": job.agent_id,
        "status": "succeeded" if succeeded else "failed",
        "dry_run": False,
        "packages": [
            {
                "name": p.get("name", ""),
                "version": p.get("version", ""),
                "status": "installed" if succeeded else "failed",
                "message": "" if succeeded else message,
            }
            for p in job.packages
        ],
        "log": "ok" if succeeded else message,
    }


def report_job(
    job: Any, *, succeeded: bool, agent_http: Any = None, slug: str = "tenant-a"
) -> None:
    """The job's agent reports its outcome (through the API with ``agent_http``)."""
    from integrations.services import record_job_result

    body = job_result(job, succeeded=succeeded)
    if agent_http is not None:
        response = agent_http.post(
            f"/clients/{slug}/api/v1/agent-jobs/{job.uuid}/result/",
            json.dumps(body),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    else:
        record_job_result(job=job, payload=body, actor=f"token:agent-{job.agent_id}")


def roll_out(
    findings: Sequence[Any],
    *,
    engineer: Any,
    fail: Iterable[str] = (),
    agent_http: Any = None,
    name: str = "",
    slug: str = "tenant-a",
) -> Any:
    """Roll ``findings`` out now: their assets are pinned into the first ring, the wave is
    approved by ``engineer`` and promoted in the open window, and every agent job is reported
    by its agent (snapshots succeed; installs fail on the hosts in ``fail``)."""
    from integrations.choices import JobAction, JobStatus
    from integrations.models import AgentJob
    from rings.choices import RolloutSelection, WaveState
    from rings.models import Ring, Wave
    from rings.services import approve_wave, create_rollout, evaluate_rollout, pin_asset

    failing = set(fail)
    first = Ring.objects.order_by("order").first()
    for finding in findings:
        pin_asset(asset=finding.asset, ring=first, actor=engineer)
    rollout = create_rollout(
        name=name or f"Rollout of {', '.join(f.patch_identifier for f in findings)}",
        actor=engineer,
        selection=RolloutSelection.FINDINGS,
        finding_ids=[f.uuid for f in findings],
    )
    for _ in range(12):
        moved = evaluate_rollout(rollout=rollout)
        awaiting = list(
            Wave.objects.filter(
                rollout=rollout, state=WaveState.AWAITING, approval__isnull=True
            ).select_related("ring", "rollout")
        )
        for wave in awaiting:
            approve_wave(wave=wave, user=engineer)
        jobs = list(
            AgentJob.objects.filter(
                wave__rollout=rollout, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
            ).select_related("asset")
        )
        for job in jobs:
            ok = job.action == JobAction.SNAPSHOT or job.asset.hostname not in failing
            report_job(job, succeeded=ok, agent_http=agent_http, slug=slug)
        if not moved and not jobs and not awaiting:
            break
    return rollout


# --- network scans ------------------------------------------------------------------------------


def scan(hosts: Sequence[dict[str, Any]], *, actor: Any = "engineer@msp.test") -> Any:
    """A subnet scan's hosts reconciled as an Nmap import does."""
    from inventory.services import run_reconcile

    return run_reconcile(hosts=list(hosts), source_name="10.9.9.0/24 scan", actor=actor)


def adopt(ip: str, *, actor: Any, hostname: str, role: str = "network") -> Any:
    """An engineer adopts the scanned device at ``ip`` as a managed asset."""
    from inventory.models import UnknownDevice
    from inventory.services import adopt_unknown_device

    device = UnknownDevice.objects.get(ip=ip)
    return adopt_unknown_device(device=device, actor=actor, hostname=hostname, role=role)
