"""Demo inventory of one client: a realistic small-practice fleet, ingested through the real
discovery pipeline (payloads → validation → set-based ingest), plus a network scan's unknown
devices, a supported-software list and its last review."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.utils import timezone

from inventory.choices import AssetSource, DiscoveryRunSource
from inventory.models import SoftwarePolicy, SoftwarePolicyReview
from inventory.services import mark_stale_assets, run_ingest, run_reconcile

__all__ = ["seed_client", "demo_payloads"]

CHROME = ("Google Chrome", "Google LLC", ["124.0.6367.91", "125.0.6422.142", "126.0.6478.127"])
EDGE = ("Microsoft Edge", "Microsoft Corporation", ["125.0.2535.67", "126.0.2592.87"])
FIREFOX = ("Mozilla Firefox (x64 en-US)", "Mozilla", ["126.0.1", "127.0.2", "115.12.0esr"])
ACROBAT = ("Adobe Acrobat Reader (64-bit)", "Adobe", ["24.002.20759", "23.008.20470"])
JAVA8 = ("Java 8 Update 411 (64-bit)", "Oracle Corporation", ["8.0.4110.9"])
JAVA17 = ("Eclipse Temurin JRE with Hotspot 17.0.11+9 (x64)", "Eclipse Adoptium", ["17.0.11.9"])
TEAMVIEWER = ("TeamViewer", "TeamViewer", ["15.54.3", "15.48.5"])
ANYDESK = ("AnyDesk", "AnyDesk Software GmbH", ["8.0.10"])
SCREENCONNECT = ("ScreenConnect Client (4b7e1c2d)", "ConnectWise", ["24.1.7.8894"])
OFFICE = ("Microsoft 365 Apps for business - en-us", "Microsoft Corporation", ["16.0.17531.20152"])
SEVENZIP = ("7-Zip 23.01 (x64)", "Igor Pavlov", ["23.01"])
ZOOM = ("Zoom Workplace (64-bit)", "Zoom Video Communications, Inc.", ["6.0.11"])

HEALTHCARE_LOB = [
    ("Epic Hyperspace 2023", "Epic Systems Corporation", ["10.4.2"]),
    ("eClinicalWorks Client", "eClinicalWorks", ["11.52.308"]),
    ("Dentrix G7", "Henry Schein One", ["7.5.1"]),
]
BUSINESS_LOB = [
    ("QuickBooks Desktop Enterprise 24.0", "Intuit Inc.", ["34.0.4003.3403"]),
    ("Sage 50 Accounting", "Sage", ["2024.1.0"]),
    ("SAP GUI for Windows 8.00", "SAP SE", ["8.00.0"]),
]

WIN_KBS = {
    "11": ["KB5037771", "KB5037591", "KB5036620", "KB5031274"],
    "10": ["KB5037768", "KB5037587", "KB5011048"],
    "2022": ["KB5037782", "KB5037625", "KB5012170"],
    "2019": ["KB5037765", "KB5037594", "KB5005112"],
}
WIN_PENDING = {
    "11": (
        "2024-06 Cumulative Update for Windows 11 Version 23H2 for x64 (KB5039212)",
        "KB5039212",
        ["CVE-2024-30080", "CVE-2024-30078", "CVE-2024-30088"],
        "critical",
    ),
    "10": (
        "2024-06 Cumulative Update for Windows 10 Version 22H2 for x64 (KB5039211)",
        "KB5039211",
        ["CVE-2024-30080", "CVE-2024-30082", "CVE-2024-30088"],
        "critical",
    ),
    "2022": (
        "2024-06 Cumulative Update for Microsoft server operating system version 21H2 (KB5039227)",
        "KB5039227",
        ["CVE-2024-30080", "CVE-2024-30077", "CVE-2024-30088"],
        "critical",
    ),
    "2019": (
        "2024-06 Cumulative Update for Windows Server 2019 (KB5039217)",
        "KB5039217",
        ["CVE-2024-30080", "CVE-2024-30070", "CVE-2024-30088"],
        "critical",
    ),
}
UBUNTU_PACKAGES = [
    ("openssl", "3.0.2-0ubuntu1.15"),
    ("libssl3", "3.0.2-0ubuntu1.15"),
    ("openssh-server", "1:8.9p1-3ubuntu0.7"),
    ("openssh-client", "1:8.9p1-3ubuntu0.7"),
    ("sudo", "1.9.9-1ubuntu2.4"),
    ("curl", "7.81.0-1ubuntu1.16"),
    ("libc6", "2.35-0ubuntu3.7"),
    ("linux-image-5.15.0-107-generic", "5.15.0-107.117"),
    ("nginx", "1.18.0-6ubuntu14.4"),
    ("python3.10", "3.10.12-1~22.04.3"),
    ("git", "1:2.34.1-1ubuntu1.11"),
    ("openjdk-17-jre-headless", "17.0.11+9-1~22.04.1"),
    ("postgresql-14", "14.12-0ubuntu0.22.04.1"),
    ("bash", "5.1-6ubuntu1.1"),
    ("tzdata", "2024a-0ubuntu0.22.04"),
]
UBUNTU_PENDING = [
    (
        "openssl",
        "3.0.2-0ubuntu1.15",
        "3.0.2-0ubuntu1.16",
        "USN-6854-1",
        ["CVE-2024-4741"],
        "medium",
    ),
    (
        "libssl3",
        "3.0.2-0ubuntu1.15",
        "3.0.2-0ubuntu1.16",
        "USN-6854-1",
        ["CVE-2024-4741"],
        "medium",
    ),
    (
        "openssh-server",
        "1:8.9p1-3ubuntu0.7",
        "1:8.9p1-3ubuntu0.10",
        "USN-6859-1",
        ["CVE-2024-6387"],
        "high",
    ),
    (
        "linux-image-5.15.0-107-generic",
        "5.15.0-107.117",
        "5.15.0-112.122",
        "USN-6831-1",
        ["CVE-2024-26643", "CVE-2024-26925"],
        "high",
    ),
]
MAC_APPS = [
    ("Safari", "com.apple.Safari", "17.5"),
    ("Google Chrome", "com.google.Chrome", "126.0.6478.127"),
    ("Microsoft Word", "com.microsoft.Word", "16.86"),
    ("Zoom", "us.zoom.xos", "6.0.11"),
    ("Adobe Acrobat Reader", "com.adobe.Reader", "24.002.20759"),
]


def _program(rng: random.Random, spec: tuple[str, str, list[str]]) -> dict[str, str]:
    name, vendor, versions = spec
    day = rng.randint(1, 28)
    return {
        "name": name,
        "version": rng.choice(versions),
        "publisher": vendor,
        "install_date": f"2024{rng.randint(1, 5):02d}{day:02d}",
    }


def _mac(rng: random.Random, oui: str = "00:50:56") -> str:
    return oui + "".join(f":{rng.randint(0, 255):02x}" for _ in range(3))


def _windows(
    rng: random.Random,
    *,
    index: int,
    hostname: str,
    release: str,
    attributes: dict[str, Any],
    lob: list[tuple],
    extra: list[tuple] = (),
    collected_days_ago: int = 0,
) -> dict[str, Any]:
    server = release in ("2019", "2022")
    name = {
        "11": "Microsoft Windows 11 Pro",
        "10": "Microsoft Windows 10 Pro",
        "2022": "Microsoft Windows Server 2022 Standard",
        "2019": "Microsoft Windows Server 2019 Standard",
    }[release]
    version = {"11": "10.0.22631", "10": "10.0.19045", "2022": "10.0.20348", "2019": "10.0.17763"}
    specs = [EDGE, OFFICE, SEVENZIP] if not server else [EDGE, SEVENZIP]
    if not server:
        specs += [CHROME, ACROBAT, ZOOM]
        if rng.random() < 0.35:
            specs.append(FIREFOX)
        if rng.random() < 0.25:
            specs.append(JAVA8)
        if rng.random() < 0.2:
            specs.append(TEAMVIEWER)
        if rng.random() < 0.1:
            specs.append(ANYDESK)
        specs += lob
    else:
        specs.append(JAVA17 if rng.random() < 0.5 else SCREENCONNECT)
    specs += list(extra)
    kbs = WIN_KBS[release][: rng.randint(2, len(WIN_KBS[release]))]
    pending_name, advisory, cves, severity = WIN_PENDING[release]
    pending = []
    if rng.random() < 0.7:
        pending.append(
            {
                "name": pending_name,
                "source": "windows_update",
                "advisory": advisory,
                "cves": cves,
                "severity": severity,
                "reboot_required": True,
            }
        )
    collected = timezone.now() - timedelta(days=collected_days_ago, minutes=rng.randint(1, 600))
    return {
        "agent_id": f"demo-{hostname.lower()}",
        "collected_at": collected.isoformat(),
        "system_info": {
            "hostname": hostname,
            "hardware_serial": rng.choice(["7B", "CZ", "MXL", "5CG"])
            + str(rng.randint(10**5, 10**6)),
            "hardware_vendor": "VMware, Inc."
            if server
            else rng.choice(["Dell Inc.", "HP", "Lenovo"]),
            "hardware_model": "VMware7,1"
            if server
            else rng.choice(
                ["OptiPlex 7010", "EliteDesk 800 G6", "ThinkCentre M70q", "Latitude 5440"]
            ),
        },
        "os_version": {
            "name": name,
            "version": version[release],
            "build": version[release].rsplit(".", 1)[1],
            "platform": "windows",
            "arch": "64-bit",
        },
        "interface_addresses": [
            {"interface": "Ethernet", "address": f"10.20.{1 + index // 200}.{10 + index % 200}"}
        ],
        "interface_details": [{"interface": "Ethernet", "mac": _mac(rng)}],
        "programs": [_program(rng, spec) for spec in specs],
        "patches": [
            {
                "hotfix_id": kb,
                "description": "Security Update",
                "installed_on": f"{rng.randint(1, 5)}/14/2024",
            }
            for kb in kbs
        ],
        "pending_updates": pending,
        "patchops": attributes,
    }


def _ubuntu(rng: random.Random, *, index: int, hostname: str, attributes: dict) -> dict:
    pending = [
        {
            "name": n,
            "installed_version": iv,
            "available_version": av,
            "source": "apt",
            "advisory": adv,
            "cves": cves,
            "severity": sev,
            "reboot_required": n.startswith("linux-image"),
        }
        for n, iv, av, adv, cves, sev in UBUNTU_PENDING
        if rng.random() < 0.75
    ]
    return {
        "agent_id": f"demo-{hostname}",
        "collected_at": (timezone.now() - timedelta(minutes=rng.randint(1, 300))).isoformat(),
        "system_info": {"hostname": hostname, "hardware_vendor": "QEMU"},
        "os_version": {
            "name": "Ubuntu",
            "version": "22.04.4 LTS (Jammy Jellyfish)",
            "major": "22",
            "minor": "4",
            "platform": "ubuntu",
            "arch": "x86_64",
        },
        "interface_addresses": [{"interface": "ens18", "address": f"10.20.9.{10 + index}"}],
        "interface_details": [{"interface": "ens18", "mac": _mac(rng, "52:54:00")}],
        "deb_packages": [
            {"name": n, "version": v, "arch": "amd64", "source": n, "revision": ""}
            for n, v in UBUNTU_PACKAGES
        ],
        "pending_updates": pending,
        "patchops": attributes,
    }


def _mac_device(rng: random.Random, *, hostname: str, attributes: dict) -> dict:
    return {
        "agent_id": f"demo-{hostname}",
        "collected_at": (timezone.now() - timedelta(hours=rng.randint(1, 30))).isoformat(),
        "system_info": {
            "hostname": hostname,
            "hardware_serial": f"C02{rng.randint(10**6, 10**7)}",
            "hardware_vendor": "Apple Inc.",
            "hardware_model": "Mac14,2",
        },
        "os_version": {"name": "macOS", "version": "14.5", "build": "23F79", "platform": "darwin"},
        "interface_details": [{"interface": "en0", "mac": _mac(rng, "a4:83:e7")}],
        "apps": [
            {"name": f"{n}.app", "bundle_identifier": b, "bundle_short_version": v}
            for n, b, v in MAC_APPS
        ],
        "homebrew_packages": [
            {"name": "git", "version": "2.45.2"},
            {"name": "wget", "version": "1.24.5"},
        ],
        "pending_updates": [
            {
                "name": "macOS Sonoma 14.6",
                "installed_version": "14.5",
                "available_version": "14.6",
                "source": "softwareupdate",
                "severity": "high",
                "cves": ["CVE-2024-40781"],
                "reboot_required": True,
            }
        ],
        "patchops": attributes,
    }


def demo_payloads(client: Any) -> list[dict[str, Any]]:
    """The demo fleet of ``client`` as discovery payloads (deterministic per client)."""
    rng = random.Random(client.slug)
    prefix = "".join(word[0] for word in client.slug.split("-")).upper()[:3]
    hipaa = bool(client.is_hipaa)
    lob = [rng.choice(HEALTHCARE_LOB)] if hipaa else [rng.choice(BUSINESS_LOB)]
    workstations = rng.randint(16, 38)
    payloads: list[dict[str, Any]] = []
    owners = ["Front desk", "Billing", "Clinical", "Management", "Operations", "Finance"]
    for i in range(workstations):
        release = "11" if rng.random() < 0.7 else "10"
        payloads.append(
            _windows(
                rng,
                index=i,
                hostname=f"{prefix}-WS{i + 1:03d}",
                release=release,
                lob=lob,
                attributes={
                    "role": "workstation",
                    "asset_class": "workstation",
                    "owner": rng.choice(owners),
                    "location": f"Room {rng.randint(100, 240)}",
                    "site": "Main office",
                    "ephi": "yes" if hipaa and rng.random() < 0.6 else "no",
                    "data_flows": ["creates", "receives"] if hipaa and rng.random() < 0.5 else [],
                },
                collected_days_ago=30 if i == workstations - 1 else 0,  # one stale laptop
            )
        )
    for j, release in enumerate(["2022", "2019", "2022"]):
        name = ["DC01", "FS01", "APP01"][j]
        payloads.append(
            _windows(
                rng,
                index=200 + j,
                hostname=f"{prefix}-{name}",
                release=release,
                lob=[],
                extra=lob if name == "APP01" else (),
                attributes={
                    "role": "server",
                    "asset_class": "core_server",
                    "owner": "IT",
                    "location": "Server closet",
                    "site": "Main office",
                    "ephi": "yes" if hipaa and name != "DC01" else "no",
                    "data_flows": ["receives", "transmits"] if hipaa and name == "APP01" else [],
                },
            )
        )
    for k in range(rng.randint(2, 4)):
        payloads.append(
            _ubuntu(
                rng,
                index=k,
                hostname=f"{prefix.lower()}-lnx{k + 1:02d}",
                attributes={
                    "role": "server",
                    "asset_class": "core_server",
                    "owner": "IT",
                    "location": "Server closet",
                },
            )
        )
    for m in range(rng.randint(2, 4)):
        payloads.append(
            _mac_device(
                rng,
                hostname=f"{prefix.lower()}-mbp{m + 1:02d}",
                attributes={
                    "role": "workstation",
                    "asset_class": "workstation",
                    "owner": "Management",
                },
            )
        )
    for n in range(2):
        payloads.append(
            _windows(
                rng,
                index=300 + n,
                hostname=f"{prefix}-KIOSK{n + 1}",
                release="10",
                lob=[],
                attributes={
                    "role": "shared_kiosk",
                    "asset_class": "workstation",
                    "location": "Lobby" if n == 0 else "Waiting room",
                    "owner": "Front desk",
                },
            )
        )
    if hipaa:
        payloads.append(
            _windows(
                rng,
                index=400,
                hostname=f"{prefix}-PACS01",
                release="2019",
                lob=[],
                extra=[
                    ("Carestream PACS Workstation", "Carestream Health", ["12.2.1"]),
                    JAVA8,
                ],
                attributes={
                    "role": "server",
                    "asset_class": "do_not_disrupt",
                    "owner": "Radiology",
                    "location": "Imaging room",
                    "site": "Main office",
                    "ephi": "yes",
                    "data_flows": ["creates", "receives", "transmits"],
                },
            )
        )
    return payloads


def _scan_hosts(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "status": "up",
            "ip": "10.20.1.250",
            "ipv6": None,
            "mac": "3c:2a:f4:11:22:33",
            "mac_vendor": "Brother Industries",
            "hostnames": ["BRN3C2AF4112233.lan"],
            "os_guesses": [{"name": "Brother printer", "accuracy": 94}],
            "open_ports": [
                {"port": 80, "protocol": "tcp", "service": "http"},
                {"port": 9100, "protocol": "tcp", "service": "jetdirect"},
            ],
        },
        {
            "status": "up",
            "ip": f"10.20.1.{rng.randint(200, 240)}",
            "ipv6": None,
            "mac": "b8:27:eb:5a:6b:7c",
            "mac_vendor": "Raspberry Pi Foundation",
            "hostnames": [],
            "os_guesses": [{"name": "Linux 4.15 - 5.8", "accuracy": 96}],
            "open_ports": [{"port": 22, "protocol": "tcp", "service": "ssh"}],
        },
        {
            "status": "up",
            "ip": "10.20.1.1",
            "ipv6": None,
            "mac": "00:0c:29:aa:01:01",
            "mac_vendor": "VMware",
            "hostnames": ["gw.lan"],
            "os_guesses": [{"name": "pfSense 2.7", "accuracy": 90}],
            "open_ports": [{"port": 443, "protocol": "tcp", "service": "https"}],
        },
    ]


def seed_client(client: Any) -> None:
    """Seed the current schema's inventory (called by ``seed_demo`` inside the schema)."""
    rng = random.Random(f"{client.slug}-scan")
    run_ingest(
        data=demo_payloads(client),
        source=AssetSource.AGENT,
        run_source=DiscoveryRunSource.AGENT,
        source_name="demo-agent",
        fmt="osquery",
        actor="token:demo-agent",
        # The demo fleet's roles, classes and ePHI flags, as the MSP's asset list gives them.
        business_attributes=True,
        # The patch core's demo opens these assets' findings itself, at detection times spread
        # over the past weeks (history a fresh ingest cannot have).
        findings=False,
    )
    prefix = "".join(word[0] for word in client.slug.split("-")).lower()[:3]
    network = [
        (f"{prefix}-fw01", "FortiOS", "7.2.8", "10.20.1.1"),
        (f"{prefix}-sw01", "Cisco IOS XE", "17.9.4a", "10.20.1.2"),
    ]
    run_ingest(  # network gear listed by hand: in the inventory, but with no patch source
        data=[
            {
                "system_info": {"hostname": name},
                "os_version": {"name": os_name, "version": version},
                "interface_addresses": [{"address": ip}],
                "patchops": {
                    "role": "network",
                    "asset_class": "core_server",
                    "owner": "MSP network team",
                    "location": "Server closet",
                },
            }
            for name, os_name, version, ip in network
        ],
        source=AssetSource.CSV,
        run_source=DiscoveryRunSource.FILE,
        source_name="network-devices.csv",
        fmt="csv",
        actor="am@patchops.test",
    )
    run_reconcile(hosts=_scan_hosts(rng), source_name="subnet-10.20.1.0-24.xml", actor="demo")
    policies = [
        ("Google Chrome*", True, "Auto-updated by the RMM third-party catalogue."),
        ("Microsoft Edge*", True, "Updated with Windows Update."),
        ("Adobe Acrobat Reader*", True, "Patched through the RMM catalogue."),
        ("Java 8*", False, "Unsupported for new installs; migrate to Temurin 17."),
        ("TeamViewer*", False, "Remote access only through the MSP's ScreenConnect."),
        ("AnyDesk*", False, "Remote access only through the MSP's ScreenConnect."),
    ]
    for pattern, supported, notes in policies:
        SoftwarePolicy.objects.get_or_create(
            name_pattern=pattern, defaults={"is_supported": supported, "notes": notes}
        )
    if not SoftwarePolicyReview.objects.exists():
        SoftwarePolicyReview.objects.create(
            reviewed_on=timezone.localdate() - timedelta(days=rng.choice([40, 120])),
            reviewed_by="am@patchops.test",
            notes="Quarterly review with the practice manager.",
        )
    mark_stale_assets(stale_after_days=client.stale_after_days)
