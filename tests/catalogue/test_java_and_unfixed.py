"""Oracle Java runtimes and CPE ranges that name no fixed version.

``fixtures/nvd/java8-notepadpp-page.json`` is an NVD CVE API 2.0 page with two records as NVD
analysed them:

* CVE-2023-22081 (Oracle Java SE, October 2023): exact affected versions only, Java 8 as
  ``cpe:2.3:a:oracle:jre:1.8.0:update381`` (version ``1.8.0``, update ``update381``), Java 11+
  as plain versions (``oracle:jdk:17.0.8``). No range names a fixed version.
* CVE-2023-40031 (Notepad++): ``versionEndIncluding 8.5.6``, published while no fix existed.

Such a program still gets a finding, whose remediation says that no fixed version is published;
the finding is verified once the program is outside every range of its CVEs, also when the
update renames the program (``Java 8 Update 381`` → ``Java 8 Update 391``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from catalogue.applications import identify, java_update
from catalogue.cpe import parse_cpe
from catalogue.matching import missing_application_fixes
from findings.models import Finding
from tenants.choices import TokenScope
from tests.match_schema import conforms

PAGE = Path(__file__).parent / "fixtures" / "nvd" / "java8-notepadpp-page.json"


def _records() -> dict[str, dict]:
    page = json.loads(PAGE.read_text())
    return {v["cve"]["id"]: v["cve"] for v in page["vulnerabilities"]}


def _criteria(cve: dict) -> list[dict]:
    return [m for c in cve["configurations"] for n in c["nodes"] for m in n["cpeMatch"]]


JAVA, NPP = "CVE-2023-22081", "CVE-2023-40031"


@pytest.mark.parametrize(
    ("version", "name", "expected"),
    [
        ("8.0.3810.9", "Java 8 Update 381 (64-bit)", ("1.8.0", "update381")),
        ("8.0.3810.9", "Java 8 Update 381", ("1.8.0", "update381")),
        ("8.0.3810.9", "", ("1.8.0", "update381")),  # registry DisplayVersion: update × 10
        ("8.0.510.16", "", ("1.8.0", "update51")),  # not update 510
        ("8.0.50.13", "", ("1.8.0", "update5")),
        ("1.8.0_381", "", ("1.8.0", "update381")),  # java -version
        ("1.8.0_381-b09", "", ("1.8.0", "update381")),
        ("1.8.381.09", "", ("1.8.0", "update381")),  # macOS plug-in bundle version
        ("7.0.800", "Java 7 Update 80", ("1.7.0", "update80")),
        ("6.0.450", "Java(TM) 6 Update 45", ("1.6.0", "update45")),
        ("8.0.3810.9", "Java SE Development Kit 8 Update 381 (64-bit)", ("1.8.0", "update381")),
        ("17.0.8.0", "Java(TM) SE Development Kit 17.0.8 (64-bit)", None),  # plain version
    ],
)
def test_java_versions_read_as_nvd_writes_them(version, name, expected):
    assert java_update(version, name) == expected


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("Java 8 Update 381 (64-bit)", "8.0.3810.9", ("oracle", "jre", "1.8.0", "update381")),
        ("Java 8 Update 51", "8.0.510.16", ("oracle", "jre", "1.8.0", "update51")),
        (
            "Java SE Development Kit 8 Update 381 (64-bit)",
            "8.0.3810.9",
            ("oracle", "jdk", "1.8.0", "update381"),
        ),
        (
            "Java(TM) SE Development Kit 17.0.8 (64-bit)",
            "17.0.8.0",
            ("oracle", "jdk", "17.0.8.0", ""),
        ),
    ],
)
def test_java_programs_identify_as_oracle_cpes(name, version, expected):
    found = identify("program", name, version, "Oracle Corporation")
    assert (found.vendor, found.product, found.version, found.update) == expected


@pytest.fixture
def nvd(db):
    call_command("import_nvd", str(PAGE), verbosity=0)
    return _records()


def test_exact_java_cpes_match_without_a_fixed_version(nvd):
    java8 = [parse_cpe(m["criteria"]) for m in _criteria(nvd[JAVA]) if ":1.8.0:" in m["criteria"]]
    assert java8 and all(c.update == "update381" for c in java8)  # the file's own facts
    [match] = missing_application_fixes(
        [("program", "Java 8 Update 381 (64-bit)", "8.0.3810.9", "Oracle Corporation")], "windows"
    )
    assert match.cves == [JAVA] and match.fixed_version == ""
    assert match.patch_identifier == "Java 8 Update 381 (64-bit)@unfixed"
    reason = match.reason
    assert reason["cpe"] == "cpe:2.3:a:oracle:jre" and reason["compared_version"] == (
        "1.8.0 update381"
    )
    assert reason["no_fixed_version"] and reason["unfixed_cves"] == [JAVA]
    assert reason["remediation"].startswith("No fixed version published")
    # Other updates, the JDK of 17 at its affected version, and one past it.
    assert (
        missing_application_fixes(
            [("program", "Java 8 Update 391 (64-bit)", "8.0.3910.13", "Oracle Corporation")],
            "windows",
        )
        == []
    )
    jdk17 = "Java(TM) SE Development Kit 17.0.8 (64-bit)"
    [jdk] = missing_application_fixes([("program", jdk17, "17.0.8.0", "Oracle")], "windows")
    assert jdk.reason["cpe"] == "cpe:2.3:a:oracle:jdk" and jdk.fixed_version == ""
    jdk17_next = jdk17.replace("17.0.8", "17.0.9")
    assert (
        missing_application_fixes([("program", jdk17_next, "17.0.9.0", "Oracle")], "windows") == []
    )


def test_version_end_including_names_no_fix(nvd):
    [bound] = [m["versionEndIncluding"] for m in _criteria(nvd[NPP])]
    [match] = missing_application_fixes(
        [("program", "Notepad++ (64-bit x64)", bound, "Notepad++ Team")], "windows"
    )
    assert match.fixed_version == "" and match.reason["no_fixed_version"]
    assert f"<= {bound}" in match.reason["remediation"]
    older = missing_application_fixes(
        [("program", "Notepad++ (64-bit x64)", "8.4", "Notepad++ Team")], "windows"
    )
    assert [m.patch_identifier for m in older] == ["Notepad++ (64-bit x64)@unfixed"]
    after = bound.rsplit(".", 1)[0] + "." + str(int(bound.rsplit(".", 1)[1]) + 1)
    assert (
        missing_application_fixes(
            [("program", "Notepad++ (64-bit x64)", after, "Notepad++ Team")], "windows"
        )
        == []
    )


def test_range_without_upper_bound_names_no_fix(nvd, tmp_path):
    """The same record in the shape NVD gives while no upper bound is known: only a start."""
    page = json.loads(PAGE.read_text())
    [record] = [v for v in page["vulnerabilities"] if v["cve"]["id"] == NPP]
    [criteria] = _criteria(record["cve"])
    start = criteria.pop("versionEndIncluding")
    criteria["versionStartIncluding"] = start.rsplit(".", 1)[0]
    page["vulnerabilities"] = [record]
    path = tmp_path / "open-ended.json"
    path.write_text(json.dumps(page))
    call_command("import_nvd", str(path), verbosity=0)
    [match] = missing_application_fixes(
        [("program", "Notepad++ (64-bit x64)", "99.0", "Notepad++ Team")], "windows"
    )
    assert match.fixed_version == "" and "no upper bound" in match.reason["remediation"]


def _agent(make_token, tenant) -> HttpClient:
    _, plaintext = make_token(TokenScope.AGENT, tenant)
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def _windows(programs: list[dict]) -> dict:
    return {
        "agent_id": "agent-java-ws",
        "collected_at": "2023-11-08T08:00:00Z",
        "system_info": {"hostname": "java-ws", "hardware_serial": "SN-java-ws"},
        "os_version": {
            "name": "Microsoft Windows 10 Pro",
            "version": "10.0.19045",
            "build": "19045",
            "platform": "windows",
        },
        "programs": programs,
    }


def _push(agent: HttpClient, payload: dict) -> None:
    response = agent.post(
        "/clients/tenant-a/api/v1/discovery/", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content


JAVA_381 = {"name": "Java 8 Update 381 (64-bit)", "version": "8.0.3810.9", "publisher": "Oracle"}
JAVA_391 = {"name": "Java 8 Update 391 (64-bit)", "version": "8.0.3910.13", "publisher": "Oracle"}
NPP_856 = {"name": "Notepad++ (64-bit x64)", "version": "8.5.6", "publisher": "Notepad++ Team"}


def test_unfixed_findings_through_the_agent_api_and_their_verification(
    nvd, tenant_a, make_token, personas, login, tmp_path
):
    agent = _agent(make_token, tenant_a)
    _push(agent, _windows([JAVA_381, NPP_856]))
    with tenant_context(tenant_a):
        found = {f.patch_identifier: f for f in Finding.objects.all()}
    assert set(found) == {f"{JAVA_381['name']}@unfixed", f"{NPP_856['name']}@unfixed"}
    java = found[f"{JAVA_381['name']}@unfixed"]
    assert java.cves == [JAVA] and java.fixed_version == "" and java.state == "open"

    engineer = login(personas.engineer)
    body = engineer.get(f"/clients/tenant-a/api/v1/findings/{java.uuid}/").json()
    match = conforms(body["match"])
    assert (match["source"], match["kind"], match["detailed"]) == ("nvd", "application", True)
    assert match["no_fixed_version"] and match["remediation"].startswith("No fixed version")
    assert match["cpe"] == "cpe:2.3:a:oracle:jre" and match["ranges"][0]["cve"] == JAVA
    listed = engineer.get("/clients/tenant-a/api/v1/findings/").json()["results"]
    brief = conforms(next(r for r in listed if r["id"] == str(java.uuid))["match"])
    assert brief["no_fixed_version"] and "no fixed version published" in brief["summary"]
    page = engineer.get(f"/clients/tenant-a/findings/{java.uuid}/").content.decode()
    assert "no fixed version published" in page and "cpe:2.3:a:oracle:jre" in page

    # NVD later names the fixed version: the open finding moves onto it (one finding, not two).
    page_doc = json.loads(PAGE.read_text())
    [record] = [v for v in page_doc["vulnerabilities"] if v["cve"]["id"] == NPP]
    [criteria] = _criteria(record["cve"])
    bound = criteria.pop("versionEndIncluding")
    fixed = bound.rsplit(".", 1)[0] + "." + str(int(bound.rsplit(".", 1)[1]) + 1)
    criteria["versionEndExcluding"] = fixed
    record["cve"]["lastModified"] = "2023-09-20T00:00:00.000"
    page_doc["vulnerabilities"] = [record]
    later = tmp_path / "nvd-later.json"
    later.write_text(json.dumps(page_doc))
    call_command("import_nvd", str(later), verbosity=0)
    _push(agent, _windows([JAVA_381, NPP_856]))
    with tenant_context(tenant_a):
        npp = Finding.objects.filter(package_name=NPP_856["name"])
        assert list(npp.values_list("patch_identifier", "fixed_version", "state")) == [
            (f"{NPP_856['name']}@{fixed}", fixed, "open")
        ]

    # Java 8 Update 391 replaces Update 381 (a new program name): the Java finding is verified,
    # and nothing new opens for 391. Notepad++ at the fixed version verifies its finding too.
    _push(agent, _windows([JAVA_391, dict(NPP_856, version=fixed)]))
    with tenant_context(tenant_a):
        states = dict(Finding.objects.values_list("patch_identifier", "state"))
        assert states == {
            f"{JAVA_381['name']}@unfixed": "verified",
            f"{NPP_856['name']}@{fixed}": "verified",
        }
        verified = Finding.objects.get(pk=java.pk)
        from evidence.models import EvidenceEvent

        proof = EvidenceEvent.objects.filter(
            kind="finding.verified", subject_id=verified.uuid
        ).values_list("payload", flat=True)
        assert JAVA_391["name"] in proof[0]["proof"] and JAVA in proof[0]["proof"]


def test_removed_program_is_not_proof_of_a_fix(nvd, tenant_a, make_token):
    agent = _agent(make_token, tenant_a)
    _push(agent, _windows([JAVA_381]))
    # The programs table reported again, without Java: uninstalled, or not seen this time.
    _push(agent, _windows([NPP_856 | {"name": "7-Zip 23.01 (x64)", "version": "23.01"}]))
    with tenant_context(tenant_a):
        from inventory.models import InstalledSoftware

        assert not InstalledSoftware.objects.filter(name=JAVA_381["name"]).exists()
        assert Finding.objects.get().state == "open"
