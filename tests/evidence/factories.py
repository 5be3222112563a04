"""Evidence fixtures: a small, realistic inventory and chain for tenant A."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evidence.services import record_event
from inventory.choices import SoftwareCategory
from tests.inventory.factories import AssetFactory, InstalledSoftwareFactory
from tests.patchops.factories import FindingFactory

OCT = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)


def seed_inventory(device_rows: int = 0) -> dict:
    """3 Windows (2 ePHI), 2 Linux, 1 macOS, 1 unknown device; software in three categories."""
    win = [AssetFactory(hostname=f"ac-ws-{i:02d}", is_ephi=i < 2) for i in range(3)]
    lin = [AssetFactory(linux=True, core_server=True, hostname=f"ac-srv-{i}") for i in range(2)]
    mac = AssetFactory(macos=True, hostname="ac-mac-01")
    unknown = AssetFactory(unknown=True, hostname="10.0.0.99", os_family="other", os_name="")
    extra = [AssetFactory(hostname=f"zz-fill-{i:03d}") for i in range(device_rows)]
    for asset in win:
        InstalledSoftwareFactory(
            asset=asset, name="Google Chrome", category=SoftwareCategory.BROWSER
        )
    InstalledSoftwareFactory(
        asset=win[0], name="Adobe Acrobat Reader", category=SoftwareCategory.PDF_TOOL
    )
    InstalledSoftwareFactory(asset=mac, name="Firefox", category=SoftwareCategory.BROWSER)
    InstalledSoftwareFactory(asset=lin[0], name="openssl", category=SoftwareCategory.OS_PACKAGE)
    return {"windows": win, "linux": lin, "mac": mac, "unknown": unknown, "extra": extra}


def seed_chain(assets, when: datetime = OCT) -> list:
    """Two findings: one detected → deployed → verified, one only detected."""
    done = FindingFactory(
        asset=assets[0], verified=True, patch_identifier="KB5044284", detected_at=when
    )
    open_ = FindingFactory(asset=assets[1], patch_identifier="KB5044285", detected_at=when)
    record_event(
        kind="finding.detected", subject_type="finding", subject_id=done.uuid, occurred_at=when
    )
    record_event(
        kind="finding.detected", subject_type="finding", subject_id=open_.uuid, occurred_at=when
    )
    record_event(
        kind="deployment.succeeded",
        subject_type="deployment",
        subject_id="d-1",
        payload={"finding_id": str(done.uuid), "ring": "pilot"},
        occurred_at=when + timedelta(hours=12),
    )
    record_event(
        kind="finding.verified",
        subject_type="finding",
        subject_id=done.uuid,
        occurred_at=when + timedelta(days=1),
    )
    return [done, open_]


# --- the report fixture client ------------------------------------------------------------
#
# Tenant A (America/Chicago). October 2026 there is [2026-10-01 05:00Z, 2026-11-01 05:00Z);
# point-in-time figures are taken at 2026-11-01 05:00Z ("as of").
#
#   asset  OS       class        ePHI  findings (tier, detected → due, verified)
#   w1     Windows  workstation  yes   F1 critical KEV Oct 2 00:00 → Oct 3, verified Oct 2 20:00
#                                      F8 medium      Oct 28      → Nov 4, open (not due)
#   w2     Windows  workstation  yes   F2 critical     Oct 5 00:00 → Oct 6, verified Oct 8 00:00
#   w3     Windows  workstation  no    F3 high         Oct 10      → Oct 17, open (OVERDUE)
#   w4     Windows  core server  no    F4 high         Oct 20      → Oct 27, open, excepted
#                                      (deferral on w4, signed Oct 20 15:00Z, expires Nov 30)
#   l1     Linux    core server  no    F5 medium       Oct 1 12:00 → Oct 15, verified Oct 12 12:00
#   l2     Linux    core server  no    F6 high         Oct 25      → Nov 8, open (not due)
#   m1     macOS    workstation  no    F7 low          Sep 1       → Oct 1 00:00Z, open (OVERDUE)
#   an unknown device from a scan (out of scope)

OCT_START = datetime(2026, 10, 1, 5, 0, tzinfo=UTC)
OCT_END = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def _at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def seed_report_client(*, client, owner) -> dict:
    """The hand-built client of the report tests (see the table above), inside tenant A."""
    import time_machine

    from exceptions_register.services import ControlInput
    from patchops.choices import FindingState, SeverityTier
    from scorecards.models import ScorecardRow
    from tests.exceptions_register.factories import make_active

    w1 = AssetFactory(hostname="rc-win-01", is_ephi=True)
    w2 = AssetFactory(hostname="rc-win-02", is_ephi=True)
    w3 = AssetFactory(hostname="rc-win-03")
    w4 = AssetFactory(hostname="rc-win-srv", core_server=True)
    l1 = AssetFactory(hostname="rc-lnx-01", linux=True, core_server=True)
    l2 = AssetFactory(hostname="rc-lnx-02", linux=True, core_server=True)
    m1 = AssetFactory(hostname="rc-mac-01", macos=True)
    AssetFactory(unknown=True, hostname="10.9.9.9", os_family="other", os_name="")

    def finding(asset, ident, tier, detected, due, verified=None, **extra):
        state = FindingState.VERIFIED if verified else FindingState.OPEN
        return FindingFactory(
            asset=asset,
            patch_identifier=ident,
            tier=tier,
            detected_at=detected,
            due_at=due,
            verified_at=verified,
            deployed_at=verified - timedelta(hours=2) if verified else None,
            state=state,
            **extra,
        )

    f1 = finding(
        w1,
        "KB5044273",
        SeverityTier.CRITICAL,
        _at(10, 2),
        _at(10, 3),
        _at(10, 2, 20),
        is_kev=True,
        cves=["CVE-2024-38063"],
        risk_score=90,
    )
    f2 = finding(
        w2, "KB5044274", SeverityTier.CRITICAL, _at(10, 5), _at(10, 6), _at(10, 8), risk_score=80
    )
    f3 = finding(w3, "KB5044275", SeverityTier.HIGH, _at(10, 10), _at(10, 17), risk_score=60)
    f4 = finding(w4, "KB5044276", SeverityTier.HIGH, _at(10, 20), _at(10, 27), risk_score=50)
    f5 = finding(
        l1,
        "openssl@3.0.2-0ubuntu1.18",
        SeverityTier.MEDIUM,
        _at(10, 1, 12),
        _at(10, 15),
        _at(10, 12, 12),
        risk_score=40,
    )
    f6 = finding(l2, "USN-7079-1", SeverityTier.HIGH, _at(10, 25), _at(11, 8), risk_score=70)
    f7 = finding(m1, "macOS-14.7.1", SeverityTier.LOW, _at(9, 1), _at(10, 1), risk_score=10)
    f8 = finding(w1, "KB5044277", SeverityTier.MEDIUM, _at(10, 28), _at(11, 4), risk_score=30)

    with time_machine.travel(_at(10, 20, 15), tick=False):
        exception = make_active(
            client=client,
            approver=owner,
            assets=[w4],
            ticket_reference="PSA-4711",
            reason="Line-of-business vendor certifies the October update in November.",
            expires_at=_at(11, 30, 15),
            controls=[
                ControlInput(
                    kind="network_segmentation", description="Server moved to VLAN 40, no internet."
                ),
                ControlInput(kind="extra_monitoring", description="EDR alerts reviewed daily."),
            ],
        )

    for f, steps in ((f1, 3), (f2, 3), (f3, 1)):
        record_event(
            kind="finding.detected",
            subject_type="finding",
            subject_id=f.uuid,
            occurred_at=f.detected_at,
        )
        if steps > 1:
            record_event(
                kind="deployment.succeeded",
                subject_type="deployment",
                subject_id=f"d-{f.patch_identifier}",
                payload={"finding_id": str(f.uuid), "ring": "pilot"},
                occurred_at=f.deployed_at,
            )
            record_event(
                kind="finding.verified",
                subject_type="finding",
                subject_id=f.uuid,
                occurred_at=f.verified_at,
            )

    for day, pct in (
        (datetime(2026, 8, 10), "60.00"),
        (datetime(2026, 9, 15), "65.00"),
        (datetime(2026, 10, 31), "71.43"),
    ):
        ScorecardRow.objects.create(
            client=client,
            date=day.date(),
            computed_at=day.replace(tzinfo=UTC),
            assets_in_scope=7,
            compliant_assets=round(7 * float(pct) / 100),
            compliance_pct=pct,
            is_regulated=True,
        )
    return {
        "assets": {"w1": w1, "w2": w2, "w3": w3, "w4": w4, "l1": l1, "l2": l2, "m1": m1},
        "findings": [f1, f2, f3, f4, f5, f6, f7, f8],
        "exception": exception,
    }
