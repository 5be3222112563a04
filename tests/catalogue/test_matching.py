import re
from decimal import Decimal

import pytest

from catalogue.choices import SeverityTier
from catalogue.matching import (
    cve_signals,
    missing_package_fixes,
    missing_windows_fixes,
    order_by_epss,
    severity_tier,
    windows_product_for,
)
from catalogue.models import Advisory, AdvisoryFix, KevEntry

WIN11_23H2 = "Windows 11 Version 23H2 for x64-based Systems"
EXPLOITED = ["CVE-2023-36025", "CVE-2023-36036", "CVE-2023-36033"]  # by EPSS, highest first


def systeminfo(path) -> dict:
    text = path.read_text(encoding="utf-8", errors="replace")
    field = lambda label: re.search(rf"^{label}:\s+(.*)$", text, re.M).group(1).strip()  # noqa: E731
    return {
        "os_name": field("OS Name"),
        "os_version": field("OS Version"),
        "arch": field("System Type"),
        "kbs": set(re.findall(r"\[\d+\]: (KB\d+)", text)),
    }


@pytest.fixture
def host_23h2(realdata):
    return systeminfo(realdata / "windows-hotfix/11_23H2_x64_enterprise_systeminfo.txt")


@pytest.fixture
def november(realdata, load):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    load("epss", realdata / "epss/epss_scores-current.excerpt.csv")
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")


@pytest.mark.realdata
def test_real_23h2_host_misses_kb5032190_with_three_kev_cves(host_23h2, november):
    assert host_23h2["kbs"] == {"KB5027397", "KB5029921", "KB5031354", "KB5031592"}
    product = windows_product_for(
        host_23h2["os_name"], host_23h2["os_version"], "", host_23h2["arch"]
    )
    assert product == WIN11_23H2
    [match] = missing_windows_fixes(product, host_23h2["kbs"], "10.0.22631")
    assert match.advisory.identifier == "KB5032190"
    assert match.fixed_version == "10.0.22631.2715"
    assert match.reboot_required
    assert len(match.cves) == 29
    assert match.exploited_cves == EXPLOITED
    kev = set(KevEntry.objects.filter(cve_id__in=match.cves).values_list("cve_id", flat=True))
    assert kev == set(EXPLOITED)
    assert [c for c in match.cves if c in EXPLOITED] == EXPLOITED  # ordered by EPSS
    assert severity_tier(match.fix) == SeverityTier.CRITICAL  # "Important", raised by KEV
    assert match.patch_identifier == "KB5032190"


@pytest.mark.realdata
def test_later_cumulative_update_supersedes_november(host_23h2, november, realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Dec.xml")
    product = WIN11_23H2
    # Without December's KB the newest cumulative update is proposed, carrying November's CVEs.
    [match] = missing_windows_fixes(product, host_23h2["kbs"], None)
    assert match.advisory.identifier == "KB5033375"
    assert match.rolls_up == ["KB5032190"]
    assert set(EXPLOITED) <= set(match.cves)
    # With December's cumulative update installed, November's is not missing.
    assert missing_windows_fixes(product, host_23h2["kbs"] | {"KB5033375"}, None) == []


@pytest.mark.realdata
def test_installed_kb_or_build_satisfies_the_fix(host_23h2, november):
    assert missing_windows_fixes(WIN11_23H2, host_23h2["kbs"] | {"5032190"}, None) == []
    assert missing_windows_fixes(WIN11_23H2, set(), "10.0.22631.2715") == []
    assert missing_windows_fixes(WIN11_23H2, set(), "10.0.22631.2714") != []


@pytest.mark.realdata
def test_a_22h2_build_number_never_satisfies_23h2(november):
    # NVD's bound for 23H2 is 10.0.22621.2715: a matcher trusting it would call 22621.x fixed.
    # Builds are compared only within the same major build, so 23H2 stays exposed.
    assert missing_windows_fixes(WIN11_23H2, set(), "10.0.22621.9999") != []


@pytest.mark.realdata
def test_hotpatch_kb_counts_and_is_never_proposed(november):
    [match] = missing_windows_fixes("Windows Server 2022", set(), None)
    assert match.advisory.identifier == "KB5032198"
    assert missing_windows_fixes("Windows Server 2022", {"KB5032304"}, None) == []


@pytest.mark.parametrize(
    ("os_name", "os_version", "build", "arch", "expected"),
    [
        ("Microsoft Windows 11 Pro", "10.0.22631 N/A Build 22631", "", "x64-based PC", WIN11_23H2),
        ("Microsoft Windows 11 Pro", "10.0.22631", "22631", "x86_64", WIN11_23H2),
        (
            "Microsoft Windows 11 Home",
            "10.0.22621",
            "22621",
            "x64",
            "Windows 11 Version 22H2 for x64-based Systems",
        ),
        (
            "Microsoft Windows 11 Pro",
            "10.0.22000",
            "22000",
            "ARM64-based PC",
            "Windows 11 Version 21H2 for ARM64-based Systems",
        ),
        (
            "Microsoft Windows 10 Enterprise",
            "10.0.19045 N/A Build 19045",
            "",
            "x64-based PC",
            "Windows 10 Version 22H2 for x64-based Systems",
        ),
        (
            "Microsoft Windows 10 Pro",
            "10.0.19044",
            "19044",
            "X86-based PC",
            "Windows 10 Version 21H2 for 32-bit Systems",
        ),
        (
            "Microsoft Windows 10 Pro",
            "10.0.17763 N/A Build 17763",
            "",
            "x64-based PC",
            "Windows 10 Version 1809 for x64-based Systems",
        ),
        (
            "Microsoft Windows Server 2016 Standard",
            "10.0.14393",
            "14393",
            "x64",
            "Windows Server 2016",
        ),
        (
            "Microsoft Windows Server 2019 Datacenter",
            "10.0.17763 N/A Build 17763",
            "",
            "x64-based PC",
            "Windows Server 2019",
        ),
        (
            "Microsoft Windows Server 2022 Standard",
            "10.0.20348",
            "20348",
            None,
            "Windows Server 2022",
        ),
        ("Ubuntu", "22.04", "", "x86_64", None),
        ("Microsoft Windows 11 Pro", "10.0.99999", "99999", "x64", None),
    ],
)
def test_windows_product_for_maps_to_msrc_names(db, os_name, os_version, build, arch, expected):
    assert windows_product_for(os_name, os_version, build, arch) == expected


@pytest.mark.realdata
def test_windows_product_uses_msrc_spelling_once_imported(realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    # MSRC writes "version" in lower case for 11 21H2.
    assert (
        windows_product_for("Microsoft Windows 11 Pro", "10.0.22000", "22000", "x64")
        == "Windows 11 version 21H2 for x64-based Systems"
    )


@pytest.mark.realdata
def test_real_systeminfo_files_map(realdata, db):
    for name, expected in [
        (
            "10_22H2_x64_enterprise_en-us_systeminfo.txt",
            "Windows 10 Version 22H2 for x64-based Systems",
        ),
        ("srv_2019_rtm_datacenter_en-us_systeminfo.txt", "Windows Server 2019"),
    ]:
        info = systeminfo(realdata / "windows-hotfix" / name)
        assert (
            windows_product_for(info["os_name"], info["os_version"], "", info["arch"]) == expected
        )


@pytest.mark.realdata
def test_log4j_inside_and_outside_the_log4shell_ranges(realdata, load):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    load("osv", realdata / "osv-ghsa")
    name = "org.apache.logging.log4j:log4j-core"
    [inside] = missing_package_fixes("Maven", [(name, "2.14.1")])
    assert inside.advisory.identifier == "GHSA-jfh8-c2jp-5v3q"
    assert (inside.fixed_version, inside.cves) == ("2.15.0", ["CVE-2021-44228"])
    assert inside.patch_identifier == f"{name}@2.15.0"
    assert severity_tier(inside.advisory) == SeverityTier.CRITICAL
    for outside in ("2.15.0", "2.12.2", "2.3.1"):
        assert missing_package_fixes("Maven", [(name, outside)]) == []


@pytest.mark.realdata
def test_ubuntu_binary_packages_match_their_source_usn(realdata, load):
    load("osv", realdata / "ubuntu-osv/USN-5614-1.json")
    old = [("libwayland-client0:amd64", "1.20.0-1"), ("zlib1g:amd64", "1:1.2.11.dfsg-2ubuntu9")]
    [match] = missing_package_fixes("Ubuntu:22.04:LTS", old)
    assert (match.package_name, match.installed_version) == ("libwayland-client0", "1.20.0-1")
    assert match.fixed_version == "1.20.0-1ubuntu0.1"
    assert (
        missing_package_fixes("Ubuntu:22.04:LTS", [("libwayland-client0", "1.20.0-1ubuntu0.1")])
        == []
    )
    # Another release's fix does not apply to a 22.04 host.
    assert (
        missing_package_fixes("Ubuntu:20.04:LTS", [("libwayland-client0", "1.20.0-1ubuntu0.1")])
        == []
    )


@pytest.mark.realdata
def test_real_jammy_manifest_runs_against_ubuntu_osv(realdata, load):
    load("osv", realdata / "ubuntu-osv")
    lines = (realdata / "package-inventory/ubuntu-jammy-oci-amd64-root.manifest").read_text()
    packages = [tuple(line.split("\t")) for line in lines.splitlines() if "\t" in line]
    assert len(packages) == 101
    results = missing_package_fixes("Ubuntu:22.04:LTS", packages)
    # The minimal image carries no wayland or openssh binaries: nothing is flagged.
    assert all(r.fix.release == "22.04" for r in results)


@pytest.mark.realdata
def test_debian_codename_or_number_selects_the_release(realdata, load):
    load("debian", realdata / "debian-security-tracker/DSA")
    [m] = missing_package_fixes("Debian:bookworm", [("sope", "5.8.0-1")])
    assert m.fixed_version == "5.8.0-1+deb12u1"
    assert missing_package_fixes("Debian:12", [("sope", "5.8.0-1+deb12u1")]) == []


def test_severity_tier_uses_vendor_then_kev(db):
    adv = Advisory.objects.create(
        source="ubuntu", identifier="USN-1-1", vendor_severity="medium", cves=["CVE-2099-0001"]
    )
    assert severity_tier(adv) == SeverityTier.MEDIUM
    KevEntry.objects.create(cve_id="CVE-2099-0001", date_added="2024-01-01", due_date="2024-01-22")
    assert severity_tier(adv) == SeverityTier.CRITICAL
    assert severity_tier(["CVE-2099-0002"]) == SeverityTier.UNKNOWN
    fix = AdvisoryFix.objects.create(
        advisory=adv,
        product="Ubuntu:22.04:LTS",
        ecosystem="ubuntu",
        package_name="x",
        severity="low",
    )
    adv.cves = []
    fix.cves = ["CVE-2099-0003"]
    assert severity_tier(fix) == SeverityTier.LOW


@pytest.mark.realdata
def test_cve_signals_for_risk_scoring(november):
    signals = cve_signals(EXPLOITED + ["CVE-2023-36007"])
    assert signals["kev"] and signals["exploited"]
    assert signals["kev_cves"] == sorted(EXPLOITED)
    assert signals["max_epss"] == Decimal("0.88085")
    assert signals["max_epss_percentile"] == Decimal("0.99762")
    assert signals["max_cvss"] == Decimal("8.8")
    assert order_by_epss(EXPLOITED[::-1]) == EXPLOITED
    empty = cve_signals([])
    assert empty["max_cvss"] is None and not empty["kev"]


@pytest.mark.realdata
def test_ie_cumulative_is_its_own_line_beside_the_monthly_rollup(realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Dec.xml")
    missing = missing_windows_fixes("Windows Server 2012 R2", set(), None)
    assert {m.advisory.identifier for m in missing} == {"KB5033420", "KB5033376"}
    rollup = next(m for m in missing if m.advisory.identifier == "KB5033420")
    assert rollup.rolls_up == ["KB5032249"]
    # Installing December's IE update does not stand in for the monthly rollup.
    [left] = missing_windows_fixes("Windows Server 2012 R2", {"KB5033376"}, None)
    assert left.advisory.identifier == "KB5033420"
