"""The report fixture client, built through the real producers (``tests/producers.py``).

"Riverbend Clinic" (``october-clinic``, America/Chicago, HIPAA). October 2026 there is
[2026-10-01 05:00Z, 2026-11-01 05:00Z); point-in-time figures are taken at 2026-11-01 05:00Z.
The staleness window is the default 14 days. Every device's agent reports through ingest; the
findings come from the pending updates it reports, their tier from the reported severity (KEV
raises to critical), their due time from the default SLA policy, their risk score from the
catalogue documents imported first. Deployments are rollouts whose agent jobs report through
the agent-job API; verification is the next inventory showing the fix.

    asset       OS / class                 ePHI  finding (tier, detected → due, outcome)
    rc-win-01   Windows workstation         yes  F1 KB5044273 critical KEV  Oct 2 00:00 → Oct 4,
                                                    deployed Oct 2 18:00, verified Oct 2 20:00
                                                 F8 KB5044277 medium  Oct 28 → Nov 11, open
    rc-win-02   Windows workstation         yes  F2 KB5044274 critical  Oct 5 → Oct 7,
                                                    deployed Oct 7 22:00, verified Oct 8 00:00
    rc-win-03   Windows workstation          no  F3 KB5044275 high  Oct 10 → Oct 17, the
                                                    deployment failed Oct 12 18:00: OVERDUE
    rc-win-srv  Windows core server          no  F4 KB5044276 high  Oct 20 → Oct 23, open,
                                                    excepted (deferral signed Oct 20 15:00Z,
                                                    hard expiry Nov 30 15:00Z)
    rc-win-05   Windows workstation          no  last report Sep 20: NOT REPORTING
    rc-lnx-01   Linux core server            no  F5 USN-6854-1 medium  Oct 1 12:00 → Oct 15
                                                    12:00, verified Oct 12 12:00 (upgraded by
                                                    hand: no deployment)
    rc-lnx-02   Linux core server            no  F6 USN-7079-1 medium  Oct 25 → Nov 8, open
    rc-mac-01   macOS workstation            no  F7 macOS-14.7.1 low  Sep 1 → Oct 1 00:00Z,
                                                    open: OVERDUE
    rc-printer  adopted from a scan (HP)         no patch source: outside patch scope
    10.9.9.9    unknown device from the scan, not adopted

All devices but rc-win-05 report every Monday 12:00Z from Sep 7 and once more on Oct 31.

Risk scores (5 × CVSS + 25 × EPSS + ePHI 10 + core server 5 + server role 5 + KEV 5):
F1 35 + 12.5 + 10 + 5 = 62.50 · F2 49 + 2.5 + 10 = 61.50 · F3 44 + 0.5 = 44.50 ·
F4 39 + 5 + 5 = 49.00 · F5 0.25 + 5 + 5 = 10.25 · F6 49 + 0.5 + 5 + 5 = 59.50 ·
F7 1.00 · F8 37.5 + 10 = 47.50
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from tests.mfa import sign_in
from tests.producers import (
    Device,
    adopt,
    all_day_window,
    load_catalogue,
    push,
    push_api,
    roll_out,
    scan,
    tag_ephi,
)

SLUG = "october-clinic"
OCT_START = datetime(2026, 10, 1, 5, 0, tzinfo=UTC)
OCT_END = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)

CVSS = {
    "CVE-2024-30088": "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H",  # 7.0
    "CVE-2024-30080": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # 9.8
    "CVE-2024-30078": "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # 8.8
    "CVE-2024-30082": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",  # 7.8
    "CVE-2024-30070": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",  # 7.5
    "CVE-2024-45490": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # 9.8
}
EPSS = {
    "CVE-2024-30088": "0.5",
    "CVE-2024-30080": "0.1",
    "CVE-2024-30078": "0.02",
    "CVE-2024-4741": "0.01",
    "CVE-2024-45490": "0.02",
    "CVE-2024-40781": "0.04",
}
KEV = ["CVE-2024-30088"]


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def build(*, client: Any, owner: Any, engineer: Any, admin: Any, agent_token: str, folder: Path):
    """Drive the client through September and October 2026 (see the module docstring)."""
    from exceptions_register.services import ControlInput
    from findings.models import Finding
    from tests.exceptions_register.factories import make_active

    agents = HttpClient(HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    staff = HttpClient()
    sign_in(staff, admin)
    w1 = Device("rc-win-01", ephi=True)
    w2 = Device("rc-win-02", ephi=True)
    w3 = Device("rc-win-03")
    w4 = Device("rc-win-srv", os="windows_server")
    w5 = Device("rc-win-05")
    l1 = Device("rc-lnx-01", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"})
    l2 = Device("rc-lnx-02", os="ubuntu", packages={"libexpat1": "2.4.7-1ubuntu0.3"})
    m1 = Device("rc-mac-01", os="macos")
    fleet = [w1, w2, w3, w4, l1, l2, m1]

    def finding(device: Device, patch: str) -> Finding:
        return Finding.objects.select_related("asset").get(
            asset__agent_id=device.agent_id, patch_identifier=patch
        )

    made: dict[str, Any] = {}

    def catalogue_and_window() -> None:
        load_catalogue(folder, kev=KEV, cvss=CVSS, epss=EPSS)
        all_day_window(staff, slug=SLUG)

    def first_reports() -> None:
        m1.missing_package(
            "macOS Sonoma 14.7.1", "14.7.1", advisory="macOS-14.7.1",
            cves=["CVE-2024-40781"], severity="low", source="softwareupdate",
        )  # fmt: skip
        push_api(agents, [*fleet, w5], slug=SLUG)
        tag_ephi(staff, [w1, w2], slug=SLUG)  # the MSP marks the ePHI workstations

    def f5_detected() -> None:
        l1.missing_package(
            "openssl", "3.0.2-0ubuntu1.16", advisory="USN-6854-1", cves=["CVE-2024-4741"]
        )
        push(l1)

    def f1_detected() -> None:
        w1.missing_kb("KB5044273", cves=["CVE-2024-30088"], severity="critical")
        push_api(agents, w1, slug=SLUG)

    def deploy(device: Device, patch: str, *, fail: bool = False) -> Any:
        return lambda: roll_out(
            [finding(device, patch)],
            engineer=engineer,
            agent_http=agents,
            slug=SLUG,
            fail=[device.hostname] if fail else [],
        )

    def f2_detected() -> None:
        w2.missing_kb("KB5044274", cves=["CVE-2024-30080"], severity="critical")
        push(w2)

    def f3_detected() -> None:
        w3.missing_kb("KB5044275", cves=["CVE-2024-30078"], severity="high")
        push(w3)

    def network_scan() -> None:
        scan(
            [
                {"status": "up", "ip": "10.9.9.9", "mac": "AA:BB:CC:00:00:09"},
                {"status": "up", "ip": "10.9.9.20", "mac": "AA:BB:CC:00:00:20",
                 "mac_vendor": "HP", "hostnames": ["printer-2f"]},
            ],
            actor=engineer,
        )  # fmt: skip

    def adopt_printer() -> None:
        made["printer"] = adopt("10.9.9.20", actor=engineer, hostname="rc-printer-2f")

    def f4_detected() -> None:
        w4.missing_kb("KB5044276", cves=["CVE-2024-30082"], severity="high")
        push(w4)

    def deferral() -> None:
        made["exception"] = make_active(
            client=client,
            approver=owner,
            actor=engineer,
            assets=[w4.asset],
            ticket_reference="PSA-4711",
            reason="Line-of-business vendor certifies the October update in November.",
            expires_at=at(11, 30, 15),
            controls=[
                ControlInput(
                    kind="network_segmentation", description="Server moved to VLAN 40, no internet."
                ),
                ControlInput(kind="extra_monitoring", description="EDR alerts reviewed daily."),
            ],
        )

    def f6_detected() -> None:
        l2.missing_package(
            "libexpat1", "2.4.7-1ubuntu0.4", advisory="USN-7079-1", cves=["CVE-2024-45490"]
        )
        push(l2)

    def f8_detected() -> None:
        w1.missing_kb("KB5044277", cves=["CVE-2024-30070"], severity="medium")
        push(w1)

    script: list[tuple[datetime, Any]] = [
        (at(8, 25), catalogue_and_window),
        (at(9, 1), first_reports),
        (at(9, 20), lambda: push(w5)),  # its last report
        (at(10, 1, 12), f5_detected),
        (at(10, 2), f1_detected),
        (at(10, 2, 18), deploy(w1, "KB5044273")),
        (at(10, 2, 20), lambda: push_api(agents, w1.install_kb("KB5044273"), slug=SLUG)),
        (at(10, 5), f2_detected),
        (at(10, 7, 22), deploy(w2, "KB5044274")),
        (at(10, 8), lambda: push_api(agents, w2.install_kb("KB5044274"), slug=SLUG)),
        (at(10, 10), f3_detected),
        (at(10, 12, 12), lambda: push(l1.upgrade("openssl", "3.0.2-0ubuntu1.16"))),
        (at(10, 12, 18), deploy(w3, "KB5044275", fail=True)),
        (at(10, 15, 12), network_scan),
        (at(10, 16, 15), adopt_printer),
        (at(10, 20), f4_detected),
        (at(10, 20, 15), deferral),
        (at(10, 25), f6_detected),
        (at(10, 28), f8_detected),
        (at(10, 31, 12), lambda: push(fleet)),
    ]
    # Every Monday 12:00Z from 7 September the fleet (not rc-win-05) reports as it stands.
    script += [(at(9, 7, 12) + timedelta(weeks=n), lambda: push(fleet)) for n in range(8)]
    with tenant_context(client):
        for moment, action in sorted(script, key=lambda item: item[0]):
            with time_machine.travel(moment, tick=False):
                action()
        findings = {
            "F1": finding(w1, "KB5044273"),
            "F2": finding(w2, "KB5044274"),
            "F3": finding(w3, "KB5044275"),
            "F4": finding(w4, "KB5044276"),
            "F5": finding(l1, "USN-6854-1"),
            "F6": finding(l2, "USN-7079-1"),
            "F7": finding(m1, "macOS-14.7.1"),
            "F8": finding(w1, "KB5044277"),
        }
    return {
        "devices": {d.hostname: d for d in [*fleet, w5]},
        "findings": findings,
        "exception": made["exception"],
        "printer": made["printer"],
    }


# The scenario's three rollouts, each of one finding pinned into the canary (times: Chicago).
# F1 and F2 installed and are verifying in the canary; F3's install failed, 1 of 1 is over the
# canary's 10 % threshold, so that rollout halted at once. Pilot and production never started.
ROLLOUT_LINES = [
    "Rollout of KB5044273 Created 2026-10-02 13:00 CDT · KB5044273 Active "
    "Canary: verifying, 1 / 0 Pilot: pending, 0 / 0 Production: pending, 0 / 0 1 0",
    "Rollout of KB5044274 Created 2026-10-07 17:00 CDT · KB5044274 Active "
    "Canary: verifying, 1 / 0 Pilot: pending, 0 / 0 Production: pending, 0 / 0 1 0",
    "Rollout of KB5044275 Created 2026-10-12 13:00 CDT · KB5044275 Halted Halted "
    "2026-10-12 13:00 CDT: Failure rate 100.00 % in Canary is over its 10.00 % threshold. "
    "Canary: halted, 0 / 1 Pilot: pending, 0 / 0 Production: pending, 0 / 0 0 1",
]


def assert_rollouts_section(text: str) -> None:
    assert "3 rollouts were under way in the period." in text
    assert "expedited (emergency lane)" not in text  # none took the emergency lane
    section = text.split("3 rollouts were under way in the period.", 1)[1]
    positions = [section.index(line) for line in ROLLOUT_LINES]
    assert positions == sorted(positions)  # oldest first
