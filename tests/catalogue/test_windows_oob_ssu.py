"""Out-of-band and servicing-stack updates, handled on purpose.

The CVRF document ``fixtures/msrc/cvrf-2021-Jul-oob-ssu.xml`` names, for one CVE, both the
out-of-band update released a week before Patch Tuesday and the month's cumulative update, and
lists a servicing-stack update under MSRC's advisory ADV990001. What the tests expect is read
from that document (per product, the Vendor Fix with the highest FixedBuild), not written here.

* An out-of-band update is a cumulative update of the OS line like any other: the one with the
  highest FixedBuild is offered, the other is rolled up (never offered beside it), and an
  installed out-of-band update leaves the newer cumulative update missing.
* A servicing-stack update that fixes no CVE is no finding of its own: the cumulative update's
  finding names it as the update to install first, and installing it never satisfies the
  cumulative update.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from catalogue.matching import missing_windows_fixes, update_line, windows_product_for
from catalogue.models import AdvisoryFix, Vulnerability
from findings.models import Finding
from tenants.choices import TokenScope
from tests.match_schema import conforms

DOC = Path(__file__).parent / "fixtures" / "msrc" / "cvrf-2021-Jul-oob-ssu.xml"
NS = {
    "vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1",
    "prod": "http://www.icasi.org/CVRF/schema/prod/1.1",
}
HOSTS = {
    "Windows 10 Version 21H1 for x64-based Systems": ("Microsoft Windows 10 Pro", "19043"),
    "Windows Server 2016": ("Microsoft Windows Server 2016 Standard", "14393"),
}


def _document() -> dict[str, dict]:
    """product → {"updates": [(build, KB)], "ssu": [KB], "cves": {KB: {CVE}}} from the file."""
    root = ET.parse(DOC).getroot()
    products = {p.get("ProductID"): p.text for p in root.iter(f"{{{NS['prod']}}}FullProductName")}
    out: dict[str, dict] = {}
    for v in root.findall("vuln:Vulnerability", NS):
        cve = v.findtext("vuln:CVE", "", NS)
        for rem in v.findall("vuln:Remediations/vuln:Remediation", NS):
            if rem.get("Type") != "Vendor Fix":
                continue
            kb = "KB" + rem.findtext("vuln:Description", "", NS)
            build = rem.findtext("vuln:FixedBuild", "", NS) or ""
            subtype = rem.findtext("vuln:SubType", "", NS)
            for pid in rem.findall("vuln:ProductID", NS):
                entry = out.setdefault(products[pid.text], {"updates": [], "ssu": [], "cves": {}})
                entry["cves"].setdefault(kb, set()).add(cve)
                if "servicing stack" in subtype.lower():
                    entry["ssu"].append(kb)
                else:
                    numbers = tuple(int(n) for n in build.split("."))
                    entry["updates"].append((numbers, kb))
    return out


@pytest.fixture
def july(db):
    call_command("import_msrc", str(DOC), verbosity=0)
    return _document()


def test_the_document_holds_the_cases(july):
    """Guard: an out-of-band and a cumulative update per product, one servicing stack."""
    for product, entry in july.items():
        assert len({kb for _b, kb in entry["updates"]}) == 2, product
    assert any(entry["ssu"] for entry in july.values())


def test_out_of_band_and_cumulative_update_in_one_document(july):
    for product, (os_name, build) in HOSTS.items():
        assert windows_product_for(os_name, f"10.0.{build}", build, "x86_64") == product
        updates = july[product]["updates"]
        newest, oldest = max(updates)[1], min(updates)[1]
        # Nothing installed: the highest FixedBuild is offered and the other rolled into it.
        [match] = missing_windows_fixes(product, set(), build)
        assert match.advisory.identifier == newest
        assert oldest in match.rolls_up
        assert set().union(*july[product]["cves"].values()) - {"ADV990001"} <= set(match.cves)
        # The out-of-band update installed: the later cumulative update is still missing.
        [again] = missing_windows_fixes(product, {oldest}, build)
        assert again.advisory.identifier == newest and oldest not in again.rolls_up
        # The cumulative update installed: the earlier out-of-band update is not missing.
        assert missing_windows_fixes(product, {newest}, build) == []
        # So is a host whose own build reaches it.
        revision = ".".join(map(str, max(updates)[0]))
        assert missing_windows_fixes(product, set(), revision) == []


def test_servicing_stack_update_is_a_prerequisite_not_a_finding(july):
    product = next(p for p, e in july.items() if e["ssu"])
    [ssu] = july[product]["ssu"]
    fix = AdvisoryFix.objects.get(advisory__identifier=ssu, product=product)
    assert update_line(fix) == "ssu"
    # The advisory id stays on the KB; it is no CVE record.
    assert fix.cves == ["ADV990001"] and not Vulnerability.objects.filter(cve_id="ADV990001")
    [match] = missing_windows_fixes(product, set(), None)
    assert match.advisory.identifier == max(july[product]["updates"])[1]
    assert match.reason["prerequisite"]["kb"] == ssu
    # Installed, the servicing stack is no longer named, and it never stands in for the
    # cumulative update.
    [still] = missing_windows_fixes(product, {ssu}, None)
    assert still.advisory.identifier == match.advisory.identifier
    assert still.reason["prerequisite"] is None
    # Nor does the cumulative update stand in for the servicing stack: with the cumulative
    # update installed nothing is offered, and no finding ever carries ADV990001.
    assert missing_windows_fixes(product, {match.advisory.identifier}, None) == []


def _agent(make_token, tenant) -> HttpClient:
    _, plaintext = make_token(TokenScope.AGENT, tenant)
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def _payload(hostname: str, os_name: str, build: str, hotfixes: list[str]) -> dict:
    return {
        "agent_id": f"agent-{hostname}",
        "collected_at": "2021-07-20T08:00:00Z",
        "system_info": {"hostname": hostname, "hardware_serial": f"SN-{hostname}"},
        "os_version": {
            "name": os_name,
            "version": f"10.0.{build}",
            "build": build,
            "platform": "windows",
            "arch": "64-bit",
        },
        "patches": [{"hotfix_id": kb, "description": "Security Update"} for kb in hotfixes],
        "programs": [],
    }


def _push(agent: HttpClient, payloads: list[dict]) -> None:
    response = agent.post(
        "/clients/tenant-a/api/v1/discovery/", json.dumps(payloads), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def test_agents_get_one_finding_per_host_and_the_api_names_the_prerequisite(
    july, tenant_a, make_token, personas, login
):
    agent = _agent(make_token, tenant_a)
    payloads, newest = [], {}
    for product, (os_name, build) in HOSTS.items():
        host = "srv-2016" if "Server" in product else "ws-21h1"
        payloads.append(_payload(host, os_name, build, []))
        newest[host] = (product, max(july[product]["updates"])[1], july[product]["ssu"])
    _push(agent, payloads)
    with tenant_context(tenant_a):
        got = {
            f.asset.hostname: f
            for f in Finding.objects.select_related("asset").order_by("asset__hostname")
        }
        assert {h: f.patch_identifier for h, f in got.items()} == {
            h: kb for h, (_p, kb, _s) in newest.items()
        }
        assert not any("ADV990001" in f.cves for f in got.values())
    engineer = login(personas.engineer)
    for host, (product, kb, ssu) in newest.items():
        body = engineer.get(f"/clients/tenant-a/api/v1/findings/{got[host].uuid}/").json()
        match = conforms(body["match"])
        assert (match["source"], match["kind"], match["product"]) == ("msrc", "windows", product)
        if ssu:
            assert match["prerequisite"]["kb"] == ssu[0]
            assert ssu[0] in match["remediation"] and kb in match["remediation"]
        else:
            assert match["prerequisite"] is None
        page = engineer.get(f"/clients/tenant-a/findings/{got[host].uuid}/").content.decode()
        assert match["summary"] in page.replace("&#x27;", "'")
        assert ("match-prerequisite" in page) == bool(ssu)
    # The servicing stack installed: the same finding, no prerequisite left; then the
    # cumulative update installed verifies it.
    server = next(h for h, (_p, _k, s) in newest.items() if s)
    product, kb, ssu = newest[server]
    os_name, build = HOSTS[product]
    _push(agent, [_payload(server, os_name, build, ssu)])
    body = engineer.get(f"/clients/tenant-a/api/v1/findings/{got[server].uuid}/").json()
    assert body["patch_identifier"] == kb and body["match"]["prerequisite"] is None
    _push(agent, [_payload(server, os_name, build, [*ssu, kb])])
    with tenant_context(tenant_a):
        assert Finding.objects.get(pk=got[server].pk).state == "verified"


def test_servicing_stack_update_that_fixes_a_cve_is_offered_on_its_own(db, tmp_path):
    """The same document with the servicing-stack remediation under a CVE of its own (as MSRC
    publishes a vulnerability in the servicing stack): then it is a fix to offer, beside the
    cumulative update, never folded into it."""
    text = DOC.read_text(encoding="utf-8")
    cve = "CVE-2099-0002"  # a placeholder CVE id in place of the advisory id; the rest is the file
    path = tmp_path / "cvrf-ssu-cve.xml"
    path.write_text(text.replace("<vuln:CVE>ADV990001</vuln:CVE>", f"<vuln:CVE>{cve}</vuln:CVE>"))
    call_command("import_msrc", str(path), verbosity=0)
    truth = _document()
    product = next(p for p, e in truth.items() if e["ssu"])
    [ssu] = truth[product]["ssu"]
    newest = max(truth[product]["updates"])[1]
    found = {m.advisory.identifier: m for m in missing_windows_fixes(product, set(), None)}
    assert set(found) == {newest, ssu}
    assert found[ssu].cves == [cve] and cve not in found[newest].cves
    assert update_line(found[ssu].fix) == "ssu"
    assert found[newest].reason["prerequisite"] is None  # a finding of its own instead
    # Installed, the servicing stack is no longer offered; the cumulative update still is.
    left = missing_windows_fixes(product, {ssu}, None)
    assert [m.advisory.identifier for m in left] == [newest]
