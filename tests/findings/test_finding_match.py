"""The finding names its match and reason in the API and on its page, for every source.

Catalogues come in through the import commands on the real files of ``shared/realdata``,
devices through ``manage.py ingest`` and the agents' discovery API. What a match must say is
read from the imported catalogue rows the finding points at, not written here, so the tests
hold for other months' files too.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from catalogue.models import AdvisoryFix
from findings.models import Finding
from tenants.choices import TokenScope
from tests.match_schema import conforms as _conforms

pytestmark = [pytest.mark.django_db, pytest.mark.realdata]

SYSTEMINFO_23H2 = "windows-hotfix/11_23H2_x64_enterprise_systeminfo.txt"
API = "/clients/tenant-a/api/v1/findings/"


def _ingest(path, fmt: str, *extra: str) -> None:
    call_command("ingest", "tenant-a", str(path), "--format", fmt, *extra, verbosity=0)


def _only(tenant, **filters) -> Finding:
    with tenant_context(tenant):
        return Finding.objects.select_related("advisory", "asset").get(**filters)


def _page(client, finding: Finding) -> str:
    html = client.get(f"/clients/tenant-a/findings/{finding.uuid}/").content.decode()
    return html.replace("&#x27;", "'").replace("&quot;", '"').replace("&gt;", ">")


@pytest.mark.parametrize("months", [("Nov", "Dec"), ("Dec", "Nov")], ids=["nov-dec", "dec-nov"])
def test_windows_cumulative_update_match(realdata, tenant_a, personas, login, months):
    for month in months:
        call_command("import_msrc", str(realdata / f"msrc-cvrf/cvrfDocument-2023-{month}.xml"))
    _ingest(realdata / SYSTEMINFO_23H2, "systeminfo")
    finding = _only(tenant_a, asset__hostname__iexact="DESKTOP-JNEKK9U")
    fix = AdvisoryFix.objects.get(
        advisory__identifier=finding.patch_identifier, product__icontains="23H2 for x64"
    )
    client = login(personas.engineer)
    match = _conforms(client.get(f"{API}{finding.uuid}/").json()["match"])
    assert (match["source"], match["kind"], match["detailed"]) == ("msrc", "windows", True)
    assert match["product"] == fix.product and match["fixed_build"] == fix.fixed_version
    assert match["supersedes"] == sorted(fix.supersedes, key=lambda kb: int(kb[2:]))
    assert match["release_date"] == fix.advisory.release_date.isoformat()
    # Every update of the line the host lacks is rolled up, none is offered beside it.
    others = set(
        AdvisoryFix.objects.filter(product=fix.product, ecosystem="windows", is_hotpatch=False)
        .exclude(subtype__icontains="servicing")
        .exclude(advisory__identifier=finding.patch_identifier)
        .values_list("advisory__identifier", flat=True)
    )
    assert set(match["rolls_up"]) == others
    assert finding.patch_identifier in match["remediation"]
    assert fix.fixed_version in match["summary"] and fix.product in match["summary"]

    listed = client.get(API).json()["results"]
    [brief] = [_conforms(r["match"]) for r in listed if r["id"] == str(finding.uuid)]
    assert (brief["source"], brief["kind"], brief["detailed"]) == ("msrc", "windows", False)
    assert brief["advisory"] == finding.patch_identifier

    page = _page(client, finding)
    assert 'data-match-source="msrc"' in page and match["summary"] in page
    assert match["remediation"] in page and fix.fixed_version in page


def test_ubuntu_package_match(realdata, tenant_a, personas, login, tmp_path):
    call_command("import_osv", str(realdata / "ubuntu-osv"))
    manifest = (realdata / "package-inventory/ubuntu-jammy-oci-amd64-root.manifest").read_text()
    # The real manifest plus Wayland's client library at jammy's release version, older than
    # the fix the USN names for 22.04.
    fixes = AdvisoryFix.objects.filter(ecosystem="ubuntu", release="22.04", binaries__overlap=[
        "libwayland-client0"
    ])  # fmt: skip
    assert fixes.exists()
    path = tmp_path / "jammy.manifest"
    path.write_text(manifest + "libwayland-client0:amd64\t1.20.0-1\n")
    _ingest(path, "dpkg", "--hostname", "jammy-01")
    finding = _only(tenant_a, asset__hostname="jammy-01", package_name="libwayland-client0")
    fix = fixes.get(advisory=finding.advisory)
    client = login(personas.engineer)
    match = _conforms(client.get(f"{API}{finding.uuid}/").json()["match"])
    assert (match["source"], match["kind"]) == (finding.advisory.source, "package")
    assert match["source"] == "ubuntu" and match["detailed"]
    assert (match["release"], match["package"], match["binary"]) == (
        "22.04",
        fix.package_name,
        "libwayland-client0",
    )
    assert match["fixed_version"] == fix.fixed_version == finding.fixed_version
    assert match["installed_version"] == "1.20.0-1"
    assert match["affected_ranges"] == fix.affected_ranges
    assert match["remediation"].startswith(f"Upgrade libwayland-client0 to {fix.fixed_version}")
    page = _page(client, finding)
    assert 'data-match-kind="package"' in page and match["summary"] in page


def test_device_reported_update_match(tenant_a, make_token, personas, login):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    agent = HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    payload = {
        "agent_id": "agent-lnx-7",
        "system_info": {"hostname": "lnx-7"},
        "os_version": {"name": "Ubuntu", "version": "22.04", "platform": "ubuntu"},
        "deb_packages": [{"name": "openssl", "version": "3.0.2-0ubuntu1.10", "arch": "amd64"}],
        "pending_updates": [
            {
                "name": "openssl",
                "installed_version": "3.0.2-0ubuntu1.10",
                "available_version": "3.0.2-0ubuntu1.12",
                "source": "apt",
                "advisory": "USN-6450-1",
                "cves": ["CVE-2023-5363"],
                "severity": "high",
            }
        ],
    }
    response = agent.post(
        "/clients/tenant-a/api/v1/discovery/", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201
    finding = _only(tenant_a, asset__hostname="lnx-7")
    client = login(personas.engineer)
    match = _conforms(client.get(f"{API}{finding.uuid}/").json()["match"])
    assert (match["source"], match["kind"], match["detailed"]) == ("device", "pending_update", True)
    assert (match["reported_source"], match["reported_advisory"]) == ("apt", "USN-6450-1")
    assert "3.0.2-0ubuntu1.12" in match["remediation"]
    assert "3.0.2-0ubuntu1.12" in match["summary"]
