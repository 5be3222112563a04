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
