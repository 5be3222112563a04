"""Real files through ``manage.py ingest`` (and the agent's real output through the API): what
they contain lands in the client's inventory, and ingesting them again duplicates nothing."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from inventory.choices import SoftwareKind
from inventory.models import Asset, InstalledSoftware, UnknownDevice
from tenants.choices import TokenScope

from .test_agent_collect import run_agent

pytestmark = [pytest.mark.django_db, pytest.mark.realdata]


def _ingest(path, fmt: str | None = None, *extra: str) -> None:
    args = ["ingest", "tenant-a", str(path), *extra]
    if fmt:
        args += ["--format", fmt]
    call_command(*args, verbosity=0)


def _kbs(tenant, hostname: str) -> set[str]:
    with tenant_context(tenant):
        return set(
            InstalledSoftware.objects.filter(
                asset__hostname__iexact=hostname, kind=SoftwareKind.HOTFIX
            ).values_list("name", flat=True)
        )


def test_ingest_nmap_real_scan_gives_unknown_devices_with_mac_vendors(realdata, tenant_a):
    for _ in range(2):
        _ingest(realdata / "nmap/full_sudo5.xml", "nmap")
    with tenant_context(tenant_a):
        devices = {str(d.ip): d for d in UnknownDevice.objects.all()}
        assert set(devices) == {"192.168.1.1", "192.168.1.3", "192.168.1.4", "192.168.1.5"}
        assert devices["192.168.1.5"].mac.upper() == "00:1F:3C:87:66:50"
        assert devices["192.168.1.5"].mac_vendor == "Intel Corporate"
        assert devices["192.168.1.5"].os_guesses[0]["accuracy"] == 100
        assert Asset.objects.count() == 0  # unknown devices wait for triage


def test_ingest_nmap_connect_scan_and_vulners_scan(realdata, tenant_a):
    _ingest(realdata / "nmap/fullscan.xml")  # format told by the content
    _ingest(realdata / "nmap/issue4406.xml")
    with tenant_context(tenant_a):
        ips = set(UnknownDevice.objects.values_list("ip", flat=True))
        assert {"192.168.1.1", "192.168.1.4"} <= ips
        vulners = UnknownDevice.objects.exclude(ip__in=["192.168.1.1", "192.168.1.4"]).get()
        assert len(vulners.open_ports) == 25


def test_ingest_systeminfo_23h2_gives_host_os_and_four_kbs(realdata, tenant_a):
    path = realdata / "windows-hotfix/11_23H2_x64_enterprise_systeminfo.txt"
    _ingest(path, "systeminfo")
    _ingest(path, "systeminfo")
    with tenant_context(tenant_a):
        asset = Asset.objects.get()
        assert asset.hostname.upper() == "DESKTOP-JNEKK9U" and asset.os_family == "windows"
        assert "22631" in asset.os_version
    assert _kbs(tenant_a, "DESKTOP-JNEKK9U") == {
        "KB5027397",
        "KB5029921",
        "KB5031354",
        "KB5031592",
    }


def test_ingest_1809_systeminfo_and_qfe_pair_is_one_host_with_five_kbs(realdata, tenant_a):
    _ingest(realdata / "windows-hotfix/10_1809_x64_pro_en-us_20190307_systeminfo.txt")
    with tenant_context(tenant_a):
        hostname = Asset.objects.get().hostname
    kbs = _kbs(tenant_a, hostname)
    # This qfe export carries no CSName: the host is named on the command line.
    qfe = realdata / "windows-hotfix/10_1809_x64_pro_en-us_20190307_qfe.txt"
    _ingest(qfe, "qfe", "--hostname", hostname)
    with tenant_context(tenant_a):
        assert Asset.objects.count() == 1
    assert len(kbs) == 5 and _kbs(tenant_a, hostname) == kbs


def test_ingest_utf16_qfe_lists_154_kbs_and_french_systeminfo_93(realdata, tenant_a):
    _ingest(realdata / "windows-hotfix/srv_2012r2_u1_qfe.txt", "qfe", "--hostname", "srv-2012r2")
    _ingest(realdata / "windows-hotfix/7_sp1_x64_enterprise_fr_systeminfo_powershell.txt")
    with tenant_context(tenant_a):
        counts = {
            a.hostname: InstalledSoftware.objects.filter(asset=a, kind=SoftwareKind.HOTFIX).count()
            for a in Asset.objects.all()
        }
    assert sorted(counts.values()) == [93, 154]


def test_ingest_dpkg_manifest_keeps_101_packages_with_epochs(realdata, tenant_a):
    path = realdata / "package-inventory/ubuntu-jammy-oci-amd64-root.manifest"
    _ingest(path, "dpkg", "--hostname", "jammy-01")
    _ingest(path, "dpkg", "--hostname", "jammy-01")
    with tenant_context(tenant_a):
        asset = Asset.objects.get()
        assert (asset.os_family, asset.os_name, asset.os_version) == ("linux", "Ubuntu", "22.04")
        rows = InstalledSoftware.objects.filter(asset=asset, kind=SoftwareKind.DEB)
        assert rows.count() == 101
        assert rows.get(name="zlib1g").version == "1:1.2.11.dfsg-2ubuntu9"
        assert rows.get(name="libssl3").version == "3.0.2-0ubuntu1.6"


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian-family machine")
def test_agent_real_dry_run_output_ingests_through_the_discovery_api(
    tmp_path, tenant_a, make_token, api
):
    done = run_agent("collect", "--dry-run", state_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    http = api(plaintext)
    for _ in range(2):
        response = http.post(
            "/clients/tenant-a/api/v1/discovery/", payload, content_type="application/json"
        )
        assert response.status_code in (200, 201), response.content
    with tenant_context(tenant_a):
        asset = Asset.objects.get()
        assert asset.agent_id == payload["agent_id"] and asset.os_family == "linux"
        distinct = {(p["name"], p.get("arch") or "") for p in payload["deb_packages"]}
        assert asset.software.filter(kind=SoftwareKind.DEB).count() == len(distinct)
        assert (
            asset.pending_updates.count()
            == len({(u["name"], u.get("advisory") or "") for u in payload["pending_updates"]})
            or not payload["pending_updates"]
        )
