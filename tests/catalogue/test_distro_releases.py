"""Distribution releases: a fix applies to the host's own release (and its Pro/ESM channel, and
its upstream for RHEL rebuilds); withdrawn OSV records are not live.

Ubuntu cases use the real UBUNTU-CVE records of ``shared/realdata/ubuntu-osv`` (14.04 and 16.04
entries, Pro/ESM fixes). The RHEL-family records mirror osv.dev's Red Hat
(``Red Hat:enterprise_linux:9::baseos``), Rocky Linux and AlmaLinux records; the Alpine file
mirrors Alpine's secdb (``secdb.alpinelinux.org/v3.18/main.json``: ``pkg.secfixes``).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from catalogue.matching import missing_package_fixes, release_filter
from catalogue.models import Advisory
from findings.models import Finding
from findings.pipeline import linux_ecosystem_for


@pytest.mark.parametrize(
    ("os_name", "version", "expected", "releases"),
    [
        ("Ubuntu", "14.04.6 LTS", "Ubuntu:14.04:LTS", ["14.04", "pro/14.04"]),
        ("Ubuntu", "16.04", "Ubuntu:16.04:LTS", ["16.04", "pro/16.04"]),
        ("Ubuntu", "23.10", "Ubuntu:23.10", ["23.10", "pro/23.10"]),
        ("Debian GNU/Linux", "12", "Debian:12", ["12"]),
        ("Red Hat Enterprise Linux", "9.3", "Red Hat:9", ["rhel:9"]),
        ("Rocky Linux", "9.3", "Rocky Linux:9", ["rocky:9", "rhel:9"]),
        ("AlmaLinux", "8.9", "AlmaLinux:8", ["almalinux:8", "rhel:8"]),
        ("CentOS Stream", "9", "CentOS:9", ["centos:9", "rhel:9"]),
        ("Alpine Linux", "3.18.4", "Alpine:v3.18", ["3.18"]),
    ],
)
def test_host_release_to_catalogue_releases(os_name, version, expected, releases):
    ecosystem = linux_ecosystem_for(os_name, version)
    assert ecosystem == expected
    assert release_filter(ecosystem) == releases


def _binary(record: dict, ecosystem: str) -> tuple[str, str]:
    entry = next(a for a in record["affected"] if a["package"]["ecosystem"] == ecosystem)
    binaries = (entry.get("ecosystem_specific") or {}).get("binaries") or []
    name = binaries[0]["binary_name"] if binaries else entry["package"]["name"]
    fixed = next(
        (e["fixed"] for r in entry.get("ranges", []) for e in r["events"] if "fixed" in e), ""
    )
    return name, fixed


@pytest.mark.realdata
def test_ubuntu_16_04_host_gets_the_esm_fix(realdata, load):
    path = realdata / "ubuntu-osv/UBUNTU-CVE-2021-3782.json"
    record = json.loads(path.read_text())
    load("osv", path)
    name, fixed = _binary(record, "Ubuntu:Pro:16.04:LTS")
    assert fixed.endswith("+esm1")
    [match] = missing_package_fixes("Ubuntu:16.04:LTS", [(name, "1.12.0-1~ubuntu16.04.1")])
    assert match.fixed_version == fixed and "CVE-2021-3782" in match.cves
    assert missing_package_fixes("Ubuntu:16.04:LTS", [(name, fixed)]) == []
    # 18.04's fix is not 16.04's, and a 16.04 host never gets 18.04's version offered.
    assert all(
        m.fix.release in {"16.04", "pro/16.04"}
        for m in missing_package_fixes("Ubuntu:16.04:LTS", [(name, "1.0-1")])
    )


@pytest.mark.realdata
def test_ubuntu_14_04_host_matches_its_own_release_only(realdata, load):
    path = realdata / "ubuntu-osv/UBUNTU-CVE-2016-20013.json"
    record = json.loads(path.read_text())
    load("osv", path)
    on_1404 = {
        a["package"]["name"]
        for a in record["affected"]
        if a["package"]["ecosystem"] in {"Ubuntu:14.04:LTS", "Ubuntu:Pro:14.04:LTS"}
    }
    packages = [(n, "1.0-1") for n in sorted(on_1404)]
    found = {m.fix.package_name for m in missing_package_fixes("Ubuntu:14.04:LTS", packages)}
    assert found == on_1404
    assert {m.fix.release for m in missing_package_fixes("Ubuntu:14.04:LTS", packages)} <= {
        "14.04",
        "pro/14.04",
    }


@pytest.mark.realdata
def test_withdrawn_osv_record_is_not_live(realdata, load, tmp_path):
    record = json.loads((realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json").read_text())
    package = record["affected"][0]["package"]["name"]
    path = tmp_path / "ghsa.json"
    path.write_text(json.dumps(record))
    load("osv", path)
    assert missing_package_fixes("Maven", [(package, "2.14.1")])
    record["withdrawn"] = "2024-01-01T00:00:00Z"
    record["modified"] = "2024-01-01T00:00:00Z"
    path.write_text(json.dumps(record))
    load("osv", path)
    assert Advisory.objects.get(identifier=record["id"]).withdrawn_at is not None
    assert missing_package_fixes("Maven", [(package, "2.14.1")]) == []


def _rpm_records(tmp_path):
    def rec(identifier, ecosystem, fixed):
        return {
            "id": identifier,
            "modified": "2024-03-01T00:00:00Z",
            "published": "2024-02-27T00:00:00Z",
            "summary": "openssl security update",
            "upstream": ["CVE-2023-5678"],
            "affected": [
                {
                    "package": {"ecosystem": ecosystem, "name": "openssl"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }

    folder = tmp_path / "rpm-osv"
    folder.mkdir()
    for r in (
        rec("RHSA-2024:1000", "Red Hat:enterprise_linux:9::baseos", "1:3.0.7-25.el9_3"),
        rec("RLSA-2024:1000", "Rocky Linux:9", "1:3.0.7-25.el9_3"),
        rec("ALSA-2024:0999", "AlmaLinux:8", "1:1.1.1k-12.el8_9"),
    ):
        (folder / f"{r['id'].replace(':', '_')}.json").write_text(json.dumps(r))
    return folder


def test_rhel_family_releases(tmp_path, load):
    load("osv", _rpm_records(tmp_path))
    installed = [("openssl", "1:3.0.7-24.el9")]
    assert {m.advisory.identifier for m in missing_package_fixes("Red Hat:9", installed)} == {
        "RHSA-2024:1000"
    }
    assert {m.advisory.identifier for m in missing_package_fixes("Rocky Linux:9", installed)} == {
        "RHSA-2024:1000",
        "RLSA-2024:1000",
    }
    assert missing_package_fixes("AlmaLinux:9", [("openssl", "1:1.1.1k-9.el8_7")]) != []
    assert missing_package_fixes("Rocky Linux:8", installed) == []
    assert missing_package_fixes("Rocky Linux:9", [("openssl", "1:3.0.7-25.el9_3")]) == []


SECDB = {
    "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
    "archs": ["aarch64", "x86_64"],
    "reponame": "main",
    "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
    "distroversion": "v3.18",
    "packages": [
        {
            "pkg": {
                "name": "openssl",
                "secfixes": {
                    "3.1.4-r1": ["CVE-2023-5678"],
                    "3.1.2-r0": ["CVE-2023-2975", "CVE-2023-3446 CVE-2023-3817"],
                    "0": ["CVE-2022-1234"],
                },
            }
        }
    ],
}


def test_alpine_secdb_matches_its_release(tmp_path, load):
    path = tmp_path / "main.json"
    path.write_text(json.dumps(SECDB))
    load("osv", path)
    assert Advisory.objects.filter(identifier__startswith="ALPINE-CVE-").count() == 4
    found = missing_package_fixes("Alpine:v3.18", [("openssl", "3.1.1-r1")])
    assert {c for m in found for c in m.cves} == {
        "CVE-2023-5678",
        "CVE-2023-2975",
        "CVE-2023-3446",
        "CVE-2023-3817",
    }
    assert [m.cves for m in missing_package_fixes("Alpine:v3.18", [("openssl", "3.1.4-r0")])] == [
        ["CVE-2023-5678"]
    ]
    assert missing_package_fixes("Alpine:v3.19", [("openssl", "3.1.1-r1")]) == []


def test_rocky_host_through_ingest_gets_red_hat_and_rocky_findings(tenant_a, tmp_path):
    call_command("import_osv", str(_rpm_records(tmp_path)), verbosity=0)
    payload = {
        "agent_id": "rocky-1",
        "system_info": {"hostname": "rocky-1"},
        "os_version": {"name": "Rocky Linux", "version": "9.3", "platform": "rhel"},
        "rpm_packages": [
            {"name": "openssl", "version": "3.0.7", "release": "24.el9", "epoch": "1"}
        ],
    }
    path = tmp_path / "rocky.json"
    path.write_text(json.dumps(payload))
    call_command("ingest", "tenant-a", str(path), "--format", "osquery", verbosity=0)
    with tenant_context(tenant_a):
        findings = list(Finding.objects.values_list("patch_identifier", "fixed_version"))
    assert findings == [("openssl@1:3.0.7-25.el9_3", "1:3.0.7-25.el9_3")]
