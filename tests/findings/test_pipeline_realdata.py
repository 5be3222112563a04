"""Inventory → catalogue matching → findings, end to end with the real files of shared/realdata.

Catalogue files go through the import commands and inventory through ``manage.py ingest``
into tenant A, as an MSP would run them.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from catalogue.models import EpssScore
from findings.choices import FindingOrigin, FindingState, SeverityTier
from findings.models import Finding
from inventory.models import Asset

pytestmark = pytest.mark.django_db

EXPLOITED = {"CVE-2023-36025", "CVE-2023-36033", "CVE-2023-36036"}
SYSTEMINFO_23H2 = "windows-hotfix/11_23H2_x64_enterprise_systeminfo.txt"


def _ingest(path, fmt: str, *extra: str) -> None:
    call_command("ingest", "tenant-a", str(path), "--format", fmt, *extra, verbosity=0)


def _import_windows_catalogue(realdata, *months: str) -> None:
    call_command("import_kev", str(realdata / "cisa-kev/known_exploited_vulnerabilities.json"))
    call_command("import_epss", str(realdata / "epss/epss_scores-current.excerpt.csv"))
    for month in months:
        call_command("import_msrc", str(realdata / f"msrc-cvrf/cvrfDocument-2023-{month}.xml"))


def _findings(tenant_a, hostname: str) -> list[Finding]:
    with tenant_context(tenant_a):
        return list(
            Finding.objects.filter(asset__hostname__iexact=hostname)
            .select_related("advisory")
            .order_by("patch_identifier")
        )


def _with_hotfix(realdata, tmp_path, kb: str):
    """The real 23H2 systeminfo with one more installed hotfix, as the host reports it later."""
    text = (realdata / SYSTEMINFO_23H2).read_bytes().decode("ascii")
    text = text.replace("4 Hotfix(s) Installed.", "5 Hotfix(s) Installed.").replace(
        "[04]: KB5031592\r\n", f"[04]: KB5031592\r\n{' ' * 27}[05]: {kb}\r\n"
    )
    path = tmp_path / "systeminfo-later.txt"
    path.write_bytes(text.encode())
    return path


def test_pipeline_23h2_host_gets_one_kev_critical_finding_for_kb5032190(realdata, tenant_a):
    _import_windows_catalogue(realdata, "Nov")
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")

    findings = _findings(tenant_a, "DESKTOP-JNEKK9U")
    assert [f.patch_identifier for f in findings] == ["KB5032190"]
    finding = findings[0]
    assert finding.origin == FindingOrigin.ADVISORY_MATCH
    assert finding.advisory.identifier == "KB5032190"
    assert set(finding.cves) >= EXPLOITED and len(finding.cves) == 29
    assert finding.is_kev and finding.tier == SeverityTier.CRITICAL
    assert finding.fixed_version == "10.0.22631.2715"
    # CVEs ordered by EPSS as the catalogue gives them, highest first.
    scores = dict(EpssScore.objects.values_list("cve_id", "score"))
    ranked = [c for c in finding.cves if c in scores]
    assert ranked[0] == "CVE-2023-36025"  # EPSS 0.88085, the highest of the 29
    exploited = [c for c in finding.cves if c in EXPLOITED]
    assert exploited == ["CVE-2023-36025", "CVE-2023-36036", "CVE-2023-36033"]
    assert [scores[c] for c in ranked] == sorted((scores[c] for c in ranked), reverse=True)
    assert finding.cves[: len(ranked)] == ranked  # unscored CVEs come after the scored ones


def test_pipeline_reingest_creates_no_duplicate_finding(realdata, tenant_a):
    _import_windows_catalogue(realdata, "Nov")
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    first = _findings(tenant_a, "DESKTOP-JNEKK9U")
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    again = _findings(tenant_a, "DESKTOP-JNEKK9U")
    assert [(f.pk, f.detected_at, f.state) for f in again] == [
        (f.pk, f.detected_at, f.state) for f in first
    ]
    with tenant_context(tenant_a):
        assert Asset.objects.filter(hostname__iexact="DESKTOP-JNEKK9U").count() == 1


def test_pipeline_later_cumulative_update_supersedes_the_open_finding(realdata, tenant_a, tmp_path):
    """November is missing; December's document arrives: the open finding moves onto December's
    cumulative update (one finding, clock kept, November's CVEs rolled up), and installing it
    verifies the finding."""
    _import_windows_catalogue(realdata, "Nov")
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    [november] = _findings(tenant_a, "DESKTOP-JNEKK9U")
    call_command("import_msrc", str(realdata / "msrc-cvrf/cvrfDocument-2023-Dec.xml"))
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    [finding] = _findings(tenant_a, "DESKTOP-JNEKK9U")
    assert finding.pk == november.pk and finding.detected_at == november.detected_at
    assert finding.patch_identifier == "KB5033375"  # December's, superseding KB5032190
    assert finding.fixed_version == "10.0.22631.2861"
    assert set(finding.cves) >= set(november.cves) | EXPLOITED
    assert finding.is_kev and finding.tier == SeverityTier.CRITICAL
    with tenant_context(tenant_a):
        from evidence.models import EvidenceEvent

        [moved] = EvidenceEvent.objects.filter(kind="finding.superseded")
    assert moved.payload["from_patch"] == "KB5032190" and moved.payload["patch"] == "KB5033375"

    _ingest(_with_hotfix(realdata, tmp_path, "KB5033375"), "systeminfo")
    [after] = _findings(tenant_a, "DESKTOP-JNEKK9U")
    assert after.state == FindingState.VERIFIED and after.verified_at is not None
    _ingest(_with_hotfix(realdata, tmp_path, "KB5033375"), "systeminfo")
    assert len(_findings(tenant_a, "DESKTOP-JNEKK9U")) == 1  # still no duplicates


def _scheduled_in_a_rollout(finding: Finding, personas, login) -> None:
    """An engineer rolls ``finding`` out through the canary in an open window: once the wave
    deploys, the finding is scheduled."""
    from rings.models import Ring
    from rings.services import approve_wave, create_rollout, evaluate_rollout, pin_asset
    from tests.producers import all_day_window

    all_day_window(login(personas.msp_admin))
    pin_asset(asset=finding.asset, ring=Ring.objects.get(key="canary"), actor=personas.engineer)
    rollout = create_rollout(
        name="November", actor=personas.engineer, selection="findings", finding_ids=[finding.uuid]
    )
    evaluate_rollout(rollout=rollout)
    approve_wave(wave=rollout.waves.get(ring__key="canary"), user=personas.engineer)
    evaluate_rollout(rollout=rollout)
    finding.refresh_from_db()
    assert finding.state == FindingState.SCHEDULED


def test_pipeline_older_update_installed_verifies_superseded_finding(
    realdata, tenant_a, tmp_path, personas, login
):
    """A finding in a rollout keeps its KB; it verifies once a later update replacing it is
    installed, and the later update is the only one offered beside it."""
    _import_windows_catalogue(realdata, "Nov")
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    with tenant_context(tenant_a):
        _scheduled_in_a_rollout(Finding.objects.get(), personas, login)
    call_command("import_msrc", str(realdata / "msrc-cvrf/cvrfDocument-2023-Dec.xml"))
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    by_kb = {f.patch_identifier: f for f in _findings(tenant_a, "DESKTOP-JNEKK9U")}
    assert set(by_kb) == {"KB5032190", "KB5033375"}
    assert set(by_kb["KB5033375"].cves) >= EXPLOITED  # the newer KB rolls the older CVEs up
    _ingest(_with_hotfix(realdata, tmp_path, "KB5033375"), "systeminfo")
    after = {f.patch_identifier: f for f in _findings(tenant_a, "DESKTOP-JNEKK9U")}
    assert all(f.state == FindingState.VERIFIED for f in after.values())
    with tenant_context(tenant_a):
        from evidence.models import EvidenceEvent

        proofs = [
            e.payload["proof"]
            for e in EvidenceEvent.objects.filter(kind="finding.verified")
            if e.payload["patch"] == "KB5032190"
        ]
    assert proofs and "replaced by a later installed update" in proofs[0]


def _log4j_host(tmp_path, version: str, hostname: str):
    payload = {
        "agent_id": f"agent-{hostname}",
        "system_info": {"hostname": hostname},
        "os_version": {"name": "Microsoft Windows Server 2019 Standard", "build": "17763"},
        "programs": [{"name": "log4j-core", "version": version, "publisher": "Apache"}],
    }
    path = tmp_path / f"{hostname}.json"
    path.write_text(json.dumps(payload))
    return path


@pytest.mark.parametrize(
    ("version", "affected"), [("2.14.1", True), ("2.15.0", False), ("2.12.2", False)]
)
def test_pipeline_log4j_core_inside_and_outside_log4shell(
    realdata, tenant_a, tmp_path, version, affected
):
    call_command("import_kev", str(realdata / "cisa-kev/known_exploited_vulnerabilities.json"))
    call_command("import_osv", str(realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json"))
    _ingest(_log4j_host(tmp_path, version, "APP-01"), "osquery")
    findings = _findings(tenant_a, "APP-01")
    if not affected:
        assert findings == []
        return
    assert len(findings) == 1
    f = findings[0]
    assert f.advisory.identifier == "GHSA-jfh8-c2jp-5v3q"
    assert f.cves == ["CVE-2021-44228"] and f.is_kev and f.tier == SeverityTier.CRITICAL
    assert f.package_name == "log4j-core" and f.fixed_version == "2.15.0"

    # The host upgrades: the next inventory verifies the finding.
    _ingest(_log4j_host(tmp_path, "2.17.1", "APP-01"), "osquery")
    assert _findings(tenant_a, "APP-01")[0].state == FindingState.VERIFIED


def test_pipeline_ubuntu_jammy_manifest_matches_ubuntu_osv(realdata, tenant_a, tmp_path):
    call_command("import_osv", str(realdata / "ubuntu-osv"))
    manifest = (realdata / "package-inventory/ubuntu-jammy-oci-amd64-root.manifest").read_text()
    # The real manifest, plus Wayland's client library at jammy's release version (1.20.0-1),
    # older than USN-5614-1's fix 1.20.0-1ubuntu0.1.
    path = tmp_path / "jammy.manifest"
    path.write_text(manifest + "libwayland-client0:amd64\t1.20.0-1\n")
    _ingest(path, "dpkg", "--hostname", "jammy-01")

    with tenant_context(tenant_a):
        asset = Asset.objects.get(hostname="jammy-01")
        assert (asset.os_name, asset.os_version) == ("Ubuntu", "22.04")
    by_id = {f.patch_identifier: f for f in _findings(tenant_a, "jammy-01")}
    wayland = by_id["libwayland-client0@1.20.0-1ubuntu0.1"]
    assert wayland.installed_version == "1.20.0-1"
    assert wayland.advisory.identifier in {"USN-5614-1", "UBUNTU-CVE-2021-3782"}
    assert "CVE-2021-3782" in wayland.cves

    # At the fixed version (dpkg rules) the finding is verified by the next inventory.
    path.write_text(manifest + "libwayland-client0:amd64\t1.20.0-1ubuntu0.1\n")
    _ingest(path, "dpkg", "--hostname", "jammy-01")
    after = {f.patch_identifier: f for f in _findings(tenant_a, "jammy-01")}
    assert after["libwayland-client0@1.20.0-1ubuntu0.1"].state == FindingState.VERIFIED


def test_pipeline_empty_catalogue_leaves_only_reported_updates(realdata, tenant_a):
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    assert _findings(tenant_a, "DESKTOP-JNEKK9U") == []


def test_finding_page_says_why_this_update(realdata, tenant_a, personas, login):
    _import_windows_catalogue(realdata, "Dec", "Nov")  # either order: December's KB is offered
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    [finding] = _findings(tenant_a, "DESKTOP-JNEKK9U")
    assert finding.patch_identifier == "KB5033375"
    from findings.explain import explain_finding

    with tenant_context(tenant_a):
        why = explain_finding(Finding.objects.select_related("asset").get(pk=finding.pk))
    assert why["fixed_build"] == "10.0.22631.2861" and why["supersedes"] == ["KB5032190"]
    assert why["rolls_up"] == ["KB5032190"] and why["product"].startswith("Windows 11 Version 23H2")
    body = login(personas.engineer).get(f"/clients/tenant-a/findings/{finding.uuid}/").content
    text = body.decode()
    assert 'data-testid="why-this-update"' in text
    assert "10.0.22631.2861" in text and "KB5032190" in text


def _reject(realdata, folder, cves) -> None:
    """The CNA rejects ``cves``: their CVE 5 records in state REJECTED, through import_cve5."""
    folder.mkdir(exist_ok=True)
    template = json.loads((realdata / "cve-json5/CVE-2024-3094.json").read_text())
    for cve in cves:
        record = json.loads(json.dumps(template))
        record["cveMetadata"].update(
            cveId=cve, state="REJECTED", dateRejected="2024-01-01T00:00:00"
        )
        record["containers"] = {
            "cna": {
                "providerMetadata": template["containers"]["cna"]["providerMetadata"],
                "rejectedReasons": [{"lang": "en", "value": "Rejected by its CNA."}],
            }
        }
        (folder / f"{cve}.json").write_text(json.dumps(record))
    call_command("import_cve5", str(folder), verbosity=0)


def _kb_cves(kb: str) -> list[str]:
    from catalogue.models import AdvisoryFix

    [fix] = AdvisoryFix.objects.filter(advisory__identifier=kb, product__icontains="23H2 for x64")
    return sorted(fix.cves)


def test_rejected_cve_raises_no_finding(realdata, tenant_a, tmp_path):
    """A Windows update whose every CVE was rejected opens nothing (CVE 5 state REJECTED)."""
    _import_windows_catalogue(realdata, "Nov")
    _reject(realdata, tmp_path / "cve5", _kb_cves("KB5032190"))
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    assert _findings(tenant_a, "DESKTOP-JNEKK9U") == []


def test_rejected_cves_are_dropped_from_the_finding(realdata, tenant_a, tmp_path):
    _import_windows_catalogue(realdata, "Nov")
    cves = _kb_cves("KB5032190")
    kept = sorted(EXPLOITED)[0]
    _reject(realdata, tmp_path / "cve5", [c for c in cves if c != kept])
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    [finding] = _findings(tenant_a, "DESKTOP-JNEKK9U")
    assert finding.cves == [kept] and finding.is_kev
