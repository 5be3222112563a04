"""Third-party applications: name normalisation (property tests), the curated mapping, and
findings from NVD CPE ranges on each OS family.

The NVD records below mirror NVD CVE API 2.0 ``cve`` objects (``configurations[].nodes[]
.cpeMatch[]`` with ``criteria`` and ``versionEndExcluding``), with the real bounds NVD gives:
CVE-2023-7024 (Chrome heap overflow in WebRTC, fixed in 120.0.6099.129, in CISA KEV),
CVE-2023-6856 (Firefox, fixed in 121.0), CVE-2023-31102 (7-Zip, fixed in 23.00, configured as
"7-Zip running on Windows", an AND configuration). ``oracle:mysql`` comes from the real NVD page
in ``shared/realdata/nvd-api-2.0/full-page.json`` (CVE-2023-22068, 8.0 ≤ v ≤ 8.0.34).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalogue.applications import curated_applications, identify, normalise_name
from catalogue.matching import missing_application_fixes
from catalogue.models import CpeMatch
from findings.models import Finding
from tests.match_schema import conforms

# --- normalisation: properties ------------------------------------------------------------

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10)
product_names = st.lists(words, min_size=1, max_size=4).map(" ".join)
versions = st.lists(st.integers(0, 9999), min_size=2, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)
tags = st.sampled_from(
    ["(x64)", "(64-bit)", "(x86 en-US)", "(32-bit)", "(x64 de)", "- en-us", "(remove only)", "x64"]
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_normalise_is_idempotent(name):
    once = normalise_name(name)
    assert normalise_name(once) == once
    assert once == once.strip() and "  " not in once


@settings(max_examples=200, deadline=None)
@given(product_names, versions, tags)
def test_versions_and_tags_never_change_the_product(name, version, tag):
    base = normalise_name(name)
    assert normalise_name(f"{name} {version}") == base
    assert normalise_name(f"{name} {tag}") == base
    assert normalise_name(f"{name} {version} {tag}") == base


@settings(max_examples=200, deadline=None)
@given(product_names, st.sampled_from(["®", "™", "(R)", "(TM)", "©"]))
@example("build", "®")  # a name that is one of the words a version may carry after it
@example("ab release", "™")
@example("version", "(TM)")
def test_case_and_trademark_signs_never_change_the_product(name, mark):
    words_ = name.split()
    marked = " ".join(w.upper() + mark if i == 0 else w.title() for i, w in enumerate(words_))
    assert normalise_name(marked) == normalise_name(name) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Build", "build"),
        ("Release", "release"),
        ("Nightly Build", "nightly build"),
        ("Acme Imaging 4.2 Build", "acme imaging"),
        ("Acme Imaging 4.2.1 (x64) Version", "acme imaging"),
        ("Acme Tool 2024 Release", "acme tool"),
        ("PuTTY release 0.79 (64-bit)", "putty release"),
    ],
)
def test_version_words_go_only_after_a_version(name, expected):
    assert normalise_name(name) == expected


@pytest.mark.parametrize(
    ("name", "version", "publisher", "expected"),
    [
        ("Google Chrome", "120.0.6099.109", "Google LLC", "google:chrome"),
        ("Mozilla Firefox (x64 en-US)", "121.0", "Mozilla", "mozilla:firefox"),
        ("Mozilla Firefox ESR (x64 en-US)", "115.6.0", "Mozilla", "mozilla:firefox_esr"),
        ("Microsoft Edge", "120.0.2210.91", "Microsoft Corporation", "microsoft:edge_chromium"),
        ("Adobe Acrobat Reader DC MUI", "23.008.20421", "Adobe Systems", "adobe:acrobat_reader_dc"),
        ("Adobe Acrobat (64-bit)", "23.008.20421", "Adobe", "adobe:acrobat_dc"),
        ("Foxit PDF Reader", "2023.3.0.23028", "Foxit Software Inc.", "foxit:pdf_reader"),
        ("Java 8 Update 391 (64-bit)", "8.0.3910.13", "Oracle Corporation", "oracle:jre"),
        ("Java(TM) SE Development Kit 17.0.9 (64-bit)", "17.0.9.0", "Oracle", "oracle:jdk"),
        (
            "Eclipse Temurin JDK with Hotspot 17.0.9+9 (x64)",
            "17.0.9.9",
            "Eclipse",
            "eclipse:temurin",
        ),
        ("Amazon Corretto 17.0.9.8.1 (x64)", "17.0.9.8", "Amazon", "amazon:corretto"),
        ("TeamViewer", "15.49.2", "TeamViewer", "teamviewer:teamviewer"),
        ("AnyDesk", "8.0.6", "AnyDesk Software GmbH", "anydesk:anydesk"),
        (
            "ScreenConnect Client (1a2b3c4d5e6f7a8b)",
            "23.9.7.8804",
            "ConnectWise",
            "connectwise:screenconnect",
        ),
        ("PuTTY release 0.79 (64-bit)", "0.79.0.0", "Simon Tatham", "putty:putty"),
        ("WinSCP 6.1.2", "6.1.2", "Martin Prikryl", "winscp:winscp"),
        ("7-Zip 23.01 (x64)", "23.01", "Igor Pavlov", "7-zip:7-zip"),
        ("WinRAR 6.24 (64-bit)", "6.24.0", "win.rar GmbH", "rarlab:winrar"),
        ("Zoom", "5.16.10 (26186)", "Zoom Video Communications, Inc.", "zoom:meetings"),
        ("Microsoft Teams classic", "1.6.0.27573", "Microsoft", "microsoft:teams"),
        ("Cisco Webex Meetings", "43.10.0", "Cisco Webex LLC", "cisco:webex_meetings"),
        ("Slack", "4.35.131", "Slack Technologies Inc.", "slack:slack"),
        ("LibreOffice 7.6.4.1", "7.6.4.1", "The Document Foundation", "libreoffice:libreoffice"),
        ("Notepad++ (64-bit x64)", "8.5.8", "Notepad++ Team", "notepad-plus-plus:notepad++"),
        ("VLC media player", "3.0.18", "VideoLAN", "videolan:vlc_media_player"),
        (
            "Wireshark 4.2.0 64-bit",
            "4.2.0",
            "The Wireshark developer community",
            "wireshark:wireshark",
        ),
        ("KeePass Password Safe 2.55", "2.55", "Dominik Reichl", "keepass:keepass"),
        ("FileZilla 3.66.4", "3.66.4", "Tim Kosse", "filezilla-project:filezilla_client"),
    ],
)
def test_curated_windows_programs(name, version, publisher, expected):
    found = identify("program", name, version, publisher)
    assert found is not None and f"{found.vendor}:{found.product}" == expected
    assert "curated mapping" in found.reason


def test_curated_mapping_covers_the_applications_msps_patch_most():
    apps = curated_applications()
    assert len(apps) >= 40
    categories = {a.category for a in apps}
    assert {"browser", "pdf", "java", "remote-access", "archiver", "conferencing", "office"} <= (
        categories
    )
    assert len({a.key for a in apps}) == len(apps)


def test_java_8_version_is_read_as_nvd_writes_it():
    found = identify("program", "Java 8 Update 391 (64-bit)", "8.0.3910.13", "Oracle")
    assert (found.version, found.update) == ("1.8.0", "update391")


def test_macos_app_and_homebrew_names():
    assert identify("app", "zoom.us", "5.16.10", "zoom").product == "meetings"
    assert identify("app", "Google Chrome", "120.0.6099.109", "google").product == "chrome"
    assert identify("homebrew", "google-chrome", "120.0.6099.109").product == "chrome"
    assert identify("homebrew", "firefox", "121.0").product == "firefox"
    assert identify("deb", "google-chrome-stable", "120.0.6099.109-1").version == "120.0.6099.109"
    assert identify("deb", "libssl3", "3.0.2-0ubuntu1.6") is None  # distribution package


# --- matching against CPE ranges ---------------------------------------------------------


def _nvd(
    cve: str, criteria: str, end_excluding: str, *, on_windows: bool = False, start: str = ""
) -> dict:
    bounds = {"versionEndExcluding": end_excluding}
    if start:
        bounds["versionStartIncluding"] = start
    config = {
        "nodes": [
            {
                "operator": "OR",
                "negate": False,
                "cpeMatch": [
                    {
                        "vulnerable": True,
                        "criteria": criteria,
                        **bounds,
                        "matchCriteriaId": "00000000-0000-0000-0000-000000000000",
                    }
                ],
            }
        ]
    }
    if on_windows:
        config["operator"] = "AND"
        config["nodes"].append(
            {
                "operator": "OR",
                "negate": False,
                "cpeMatch": [
                    {
                        "vulnerable": False,
                        "criteria": "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*",
                        "matchCriteriaId": "11111111-1111-1111-1111-111111111111",
                    }
                ],
            }
        )
    return {
        "id": cve,
        "sourceIdentifier": "chrome-cve-admin@google.com",
        "published": "2023-12-21T23:15:11.213",
        "lastModified": "2024-01-05T00:15:00.000",
        "vulnStatus": "Analyzed",
        "descriptions": [{"lang": "en", "value": f"{cve} test record"}],
        "metrics": {
            "cvssMetricV31": [
                {
                    "source": "nvd@nist.gov",
                    "type": "Primary",
                    "cvssData": {
                        "version": "3.1",
                        "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                        "baseScore": 8.8,
                        "baseSeverity": "HIGH",
                    },
                }
            ]
        },
        "configurations": [config],
    }


@pytest.fixture
def nvd_apps(tmp_path, db):
    page = {
        "resultsPerPage": 3,
        "startIndex": 0,
        "totalResults": 3,
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2024-01-05T12:00:00.000",
        "vulnerabilities": [
            {
                "cve": _nvd(
                    "CVE-2023-7024", "cpe:2.3:a:google:chrome:*:*:*:*:*:*:*:*", "120.0.6099.129"
                )
            },
            {"cve": _nvd("CVE-2023-6856", "cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*", "121.0")},
            {
                "cve": _nvd(
                    "CVE-2023-31102",
                    "cpe:2.3:a:7-zip:7-zip:*:*:*:*:*:*:*:*",
                    "23.00",
                    on_windows=True,
                )
            },
        ],
    }
    path = tmp_path / "nvd-apps.json"
    path.write_text(json.dumps(page))
    call_command("import_nvd", str(path), verbosity=0)
    return path


def test_cpe_rows_keep_ranges_and_platforms(nvd_apps):
    seven = CpeMatch.objects.get(cve_id="CVE-2023-31102")
    assert (seven.vendor, seven.product, seven.version_end_excluding) == ("7-zip", "7-zip", "23.00")
    assert seven.platforms == ["cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"]
    call_command("import_nvd", str(nvd_apps), verbosity=0)  # idempotent
    assert CpeMatch.objects.count() == 3


def test_matching_per_os_family(nvd_apps):
    windows = missing_application_fixes(
        [
            ("program", "Google Chrome", "120.0.6099.109", "Google LLC"),
            ("program", "7-Zip 22.01 (x64)", "22.01", "Igor Pavlov"),
            ("program", "Mozilla Firefox (x64 en-US)", "121.0", "Mozilla"),  # fixed already
        ],
        "windows",
    )
    assert {(m.package_name, m.fixed_version) for m in windows} == {
        ("Google Chrome", "120.0.6099.129"),
        ("7-Zip 22.01 (x64)", "23.00"),
    }
    chrome = next(m for m in windows if m.package_name == "Google Chrome")
    assert chrome.cves == ["CVE-2023-7024"]
    assert chrome.reason["cpe"] == "cpe:2.3:a:google:chrome"
    assert chrome.reason["ranges"][0]["range"] == "< 120.0.6099.129"
    assert "curated mapping" in chrome.reason["rule"]
    # 7-Zip's record is "7-Zip running on Windows": a macOS p7zip is not matched by it.
    mac = missing_application_fixes(
        [("homebrew", "sevenzip", "22.01", ""), ("app", "Firefox", "120.0.1", "mozilla")], "macos"
    )
    assert [(m.package_name, m.fixed_version) for m in mac] == [("Firefox", "121.0")]
    linux = missing_application_fixes(
        [("deb", "google-chrome-stable", "120.0.6099.71-1", "")], "linux"
    )
    assert [(m.package_name, m.fixed_version) for m in linux] == [
        ("google-chrome-stable", "120.0.6099.129")
    ]


@pytest.mark.realdata
def test_program_outside_the_mapping_matches_a_real_nvd_range(realdata, load):
    load("nvd", realdata / "nvd-api-2.0/full-page.json")
    [match] = missing_application_fixes(
        [("program", "MySQL Server 8.0", "8.0.33", "Oracle Corporation")], "windows"
    )
    assert "CVE-2023-22068" in match.cves and match.reason["cpe"] == "cpe:2.3:a:oracle:mysql"
    assert not match.reason["curated"] and "publisher" in match.reason["rule"]
    assert (
        missing_application_fixes(
            [("program", "MySQL Server 8.0", "8.0.35", "Oracle Corporation")], "windows"
        )
        == []
    )


def _device(hostname, os_version, **tables):
    return {
        "agent_id": hostname,
        "system_info": {"hostname": hostname},
        "os_version": os_version,
        **tables,
    }


def test_third_party_findings_through_ingest_on_each_os_family(
    nvd_apps, tenant_a, tmp_path, personas, login
):
    devices = [
        _device(
            "win-1",
            {"name": "Microsoft Windows 11 Pro", "build": "22631", "platform": "windows"},
            programs=[
                {"name": "Google Chrome", "version": "120.0.6099.109", "publisher": "Google LLC"}
            ],
        ),
        _device(
            "mac-1",
            {"name": "macOS", "version": "14.2", "platform": "darwin"},
            apps=[
                {
                    "name": "Firefox.app",
                    "bundle_identifier": "org.mozilla.firefox",
                    "bundle_short_version": "120.0.1",
                }
            ],
            homebrew_packages=[{"name": "google-chrome", "version": "120.0.6099.71"}],
        ),
        _device(
            "linux-1",
            {"name": "Ubuntu", "version": "22.04", "platform": "ubuntu"},
            deb_packages=[{"name": "google-chrome-stable", "version": "120.0.6099.71-1"}],
        ),
    ]
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(devices))
    call_command("ingest", "tenant-a", str(path), "--format", "osquery", verbosity=0)
    with tenant_context(tenant_a):
        got = sorted(
            Finding.objects.values_list("asset__hostname", "patch_identifier", "tier", "cves")
        )
    assert got == [
        ("linux-1", "google-chrome-stable@120.0.6099.129", "high", ["CVE-2023-7024"]),
        ("mac-1", "Firefox@121.0", "high", ["CVE-2023-6856"]),
        ("mac-1", "google-chrome@120.0.6099.129", "high", ["CVE-2023-7024"]),
        ("win-1", "Google Chrome@120.0.6099.129", "high", ["CVE-2023-7024"]),
    ]
    # The API and the page name the match: the program, the CPE and the NVD range it lies in.
    ranges = {
        r.cve_id: {"cve": r.cve_id, "range": r.range_text(), "criteria": r.criteria}
        for r in CpeMatch.objects.filter(part="a")
    }
    kinds = {"win-1": "program", "mac-1": {"app", "homebrew"}, "linux-1": "deb"}
    engineer = login(personas.engineer)
    with tenant_context(tenant_a):
        findings = list(Finding.objects.select_related("asset"))
    for finding in findings:
        body = engineer.get(f"/clients/tenant-a/api/v1/findings/{finding.uuid}/").json()
        match = conforms(body["match"])
        assert (match["source"], match["kind"], match["detailed"]) == ("nvd", "application", True)
        assert match["program"] == finding.package_name
        assert match["inventory_kind"] in kinds[finding.asset.hostname]
        [cve] = finding.cves
        assert match["ranges"] == [ranges[cve]]
        assert ranges[cve]["criteria"].startswith(match["cpe"] + ":")
        assert match["fixed_version"] == finding.fixed_version and not match["no_fixed_version"]
        assert match["remediation"] == (
            f"Update {match['application']} to {finding.fixed_version} or later."
        )
        page = engineer.get(f"/clients/tenant-a/findings/{finding.uuid}/").content.decode()
        assert match["cpe"] in page and ranges[cve]["range"] in page.replace("&lt;", "<")
    # The updated program verifies its finding.
    devices[0]["programs"][0]["version"] = "120.0.6099.130"
    path.write_text(json.dumps(devices[:1]))
    call_command("ingest", "tenant-a", str(path), "--format", "osquery", verbosity=0)
    with tenant_context(tenant_a):
        assert Finding.objects.get(asset__hostname="win-1").state == "verified"


def test_fixed_version_skips_a_version_inside_another_range(nvd_apps, tmp_path):
    """The first bound past the host's ranges may itself be affected (a regression NVD records
    as a later range starting there): the fix offered is the first bound outside every range."""
    seven = CpeMatch.objects.get(cve_id="CVE-2023-31102")
    first_fix = seven.version_end_excluding
    page = {
        "format": "NVD_CVE",
        "version": "2.0",
        "vulnerabilities": [
            {
                "cve": _nvd(
                    "CVE-2099-0001",  # a record in NVD's shape: the regression in the first fix
                    seven.criteria,
                    f"{first_fix}.1",
                    start=first_fix,
                    on_windows=True,
                )
            }
        ],
    }
    path = tmp_path / "regression.json"
    path.write_text(json.dumps(page))
    call_command("import_nvd", str(path), verbosity=0)
    [match] = missing_application_fixes(
        [("program", "7-Zip 22.01 (x64)", "22.01", "Igor Pavlov")], "windows"
    )
    assert match.cves == ["CVE-2023-31102"] and match.fixed_version == f"{first_fix}.1"
    [again] = missing_application_fixes(
        [("program", "7-Zip 23.00 (x64)", first_fix, "Igor Pavlov")], "windows"
    )
    assert again.cves == ["CVE-2099-0001"] and again.fixed_version == f"{first_fix}.1"
