"""A host per Windows release line against two consecutive MSRC months, in either order.

The expected update is derived from the two real CVRF documents of ``shared/realdata/msrc-cvrf``
themselves (per exact product, the Vendor Fix with the highest FixedBuild that is not a
hotpatch), never from the engine; the tests hold for any two consecutive months.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from catalogue.matching import missing_windows_fixes, windows_product_for

pytestmark = pytest.mark.realdata

NS = {
    "cvrf": "http://www.icasi.org/CVRF/schema/cvrf/1.1",
    "vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1",
    "prod": "http://www.icasi.org/CVRF/schema/prod/1.1",
}
MONTHS = ("cvrfDocument-2023-Nov.xml", "cvrfDocument-2023-Dec.xml")
# (os_name as systeminfo / osquery report it, build, arch) per release line.
HOSTS = {
    "10 1809": ("Microsoft Windows 10 Enterprise LTSC", "17763", "x86_64"),
    "10 21H2": ("Microsoft Windows 10 Enterprise LTSC", "19044", "x86_64"),
    "10 22H2": ("Microsoft Windows 10 Pro", "19045", "x86_64"),
    "10 22H2 x86": ("Microsoft Windows 10 Pro", "19045", "x86"),
    "11 23H2": ("Microsoft Windows 11 Enterprise", "22631", "x86_64"),
    "11 23H2 ARM64": ("Microsoft Windows 11 Pro", "22631", "arm64"),
    "11 24H2": ("Microsoft Windows 11 Pro", "26100", "x86_64"),
    "Server 2016": ("Microsoft Windows Server 2016 Standard", "14393", "x86_64"),
    "Server 2019": ("Microsoft Windows Server 2019 Datacenter", "17763", "x86_64"),
    "Server 2022": ("Microsoft Windows Server 2022 Datacenter", "20348", "x86_64"),
}


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def expected_updates(realdata) -> dict[str, list[tuple[tuple, str, str]]]:
    """product → [(build, KB, document)] of its cumulative OS updates in both documents."""
    out: dict[str, list[tuple[tuple, str, str]]] = {}
    for name in MONTHS:
        root = ET.parse(realdata / "msrc-cvrf" / name).getroot()
        products = {
            p.get("ProductID"): p.text for p in root.iter(f"{{{NS['prod']}}}FullProductName")
        }
        for v in root.findall("vuln:Vulnerability", NS):
            for rem in v.findall("vuln:Remediations/vuln:Remediation", NS):
                subtype = (rem.findtext("vuln:SubType", "", NS) or "").lower()
                build = rem.findtext("vuln:FixedBuild", "", NS) or ""
                kb = rem.findtext("vuln:Description", "", NS) or ""
                if rem.get("Type") != "Vendor Fix" or "hotpatch" in subtype or not kb.isdigit():
                    continue
                if "ie cumulative" in subtype or not build.startswith("10.0."):
                    continue
                for pid in rem.findall("vuln:ProductID", NS):
                    product = products.get(pid.text)
                    if product:
                        out.setdefault(product, []).append((_numbers(build), f"KB{kb}", name))
    return out


@pytest.mark.parametrize("order", [MONTHS, MONTHS[::-1]], ids=["nov-then-dec", "dec-then-nov"])
def test_each_release_line_gets_the_newest_cumulative_update(realdata, load, order):
    for name in order:
        load("msrc", realdata / "msrc-cvrf" / name)
    truth = expected_updates(realdata)
    for line, (os_name, build, arch) in HOSTS.items():
        product = windows_product_for(os_name, f"10.0.{build}", build, arch)
        assert product, line
        if product not in truth:  # 24H2 was released after these months: nothing to offer
            assert line == "11 24H2" and missing_windows_fixes(product, set(), build) == []
            assert product == "Windows 11 Version 24H2 for x64-based Systems"
            continue
        updates = truth[product]
        newest = max(updates)
        older = sorted({kb for _b, kb, _d in updates} - {newest[1]})
        [match] = missing_windows_fixes(product, set(), build)
        assert match.advisory.identifier == newest[1], line
        # The revision it brings (MSRC may write a sibling release's build number before it:
        # Windows 10 21H2 rows read 10.0.19041.3803 and 10.0.19044.3803 in one document).
        assert match.fixed_version.rsplit(".", 1)[1] == str(newest[0][-1]), line
        assert match.rolls_up == older, line
        # With the newest installed nothing is missing; with an older one the newest still is.
        assert missing_windows_fixes(product, {newest[1]}, build) == [], line
        if older:
            [again] = missing_windows_fixes(product, {older[0]}, build)
            assert again.advisory.identifier == newest[1], line
        assert "x64" in product or arch != "x86_64" or "Server" in product, line
        assert ("ARM64" in product) == (arch == "arm64"), line
        assert ("32-bit" in product) == (arch == "x86"), line
        assert ("Server" in product) == ("Server" in os_name), line


# osquery's os_version.arch as Windows agents report it.
OSQUERY_ARCH = {"x86_64": "64-bit", "x86": "32-bit", "arm64": "ARM 64-bit Processor"}


def _device(line: str, hotfixes: list[str]) -> dict:
    os_name, build, arch = HOSTS[line]
    host = "host-" + line.lower().replace(" ", "-")
    return {
        "agent_id": f"agent-{host}",
        "collected_at": "2023-12-20T08:00:00Z",
        "system_info": {"hostname": host, "hardware_serial": f"SN-{host}"},
        "os_version": {
            "name": os_name,
            "version": f"10.0.{build}",
            "build": build,
            "platform": "windows",
            "arch": OSQUERY_ARCH[arch],
        },
        "patches": [{"hotfix_id": kb, "description": "Security Update"} for kb in hotfixes],
        "programs": [],
    }


@pytest.mark.parametrize("order", [MONTHS, MONTHS[::-1]], ids=["nov-then-dec", "dec-then-nov"])
def test_agents_of_every_release_line_get_the_newest_update_through_ingest(
    realdata, tenant_a, make_token, personas, login, order
):
    """The same, end to end: the documents through ``import_msrc``, one agent per release line
    through the discovery API, the findings and their match read back from the findings API."""
    import json

    from django.core.management import call_command
    from django.test import Client as HttpClient
    from django_tenants.utils import tenant_context

    from findings.models import Finding
    from tenants.choices import TokenScope

    for name in order:
        call_command("import_msrc", str(realdata / "msrc-cvrf" / name), verbosity=0)
    truth = expected_updates(realdata)
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    agent = HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    def push(devices: list[dict]) -> None:
        response = agent.post(
            "/clients/tenant-a/api/v1/discovery/",
            json.dumps(devices),
            content_type="application/json",
        )
        assert response.status_code == 201, response.content

    push([_device(line, []) for line in HOSTS])
    engineer = login(personas.engineer)
    by_host: dict[str, list] = {}
    with tenant_context(tenant_a):
        for f in Finding.objects.select_related("asset"):
            by_host.setdefault(f.asset.hostname, []).append(f)
    newest_kbs = {}
    for line, (os_name, build, arch) in HOSTS.items():
        host = _device(line, [])["system_info"]["hostname"]
        product = windows_product_for(os_name, f"10.0.{build}", build, arch)
        if product not in truth:
            assert host not in by_host, line
            continue
        newest = max(truth[product])
        older = sorted({kb for _b, kb, _d in truth[product]} - {newest[1]})
        [finding] = by_host[host]
        assert finding.patch_identifier == newest[1], line
        match = engineer.get(f"/clients/tenant-a/api/v1/findings/{finding.uuid}/").json()["match"]
        assert match["product"] == product and match["rolls_up"] == older, line
        assert match["fixed_build"].rsplit(".", 1)[1] == str(newest[0][-1]), line
        newest_kbs[line] = newest[1]
    # Each host installs its newest update: every finding is verified, none reopens.
    push([_device(line, [newest_kbs[line]] if line in newest_kbs else []) for line in HOSTS])
    with tenant_context(tenant_a):
        states = set(Finding.objects.values_list("state", flat=True))
        assert states == {"verified"}
        assert Finding.objects.count() == len(newest_kbs)
