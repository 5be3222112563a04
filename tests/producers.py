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

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from inventory.choices import AssetSource, DiscoveryRunSource

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
    mac: str = ""
    ip: str = ""

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
            body["programs"] = [{"name": "Google Chrome", "version": "130.0.6723.59"}]
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
        }
        if attributes:
            body["patchops"] = attributes
        return body

    @property
    def asset(self) -> Any:
        from inventory.models import Asset

        return Asset.objects.get(agent_id=self.agent_id)


def push(devices: Device | Iterable[Device], *, actor: Any = AGENT) -> Any:
    """The agents push their payloads now (``run_ingest``, as the discovery API does)."""
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
    )
    return summary


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
