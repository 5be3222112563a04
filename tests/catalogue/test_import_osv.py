import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.models import Advisory, AdvisoryFix

pytestmark = pytest.mark.realdata


def test_osv_usn_fixed_versions_per_release(realdata, load):
    load("osv", realdata / "ubuntu-osv/USN-5614-1.json")
    usn = Advisory.objects.get(identifier="USN-5614-1")
    assert usn.source == "ubuntu" and usn.cves == ["CVE-2021-3782"]
    assert usn.vendor_severity == "medium"
    fixed = dict(AdvisoryFix.objects.filter(advisory=usn).values_list("release", "fixed_version"))
    assert fixed == {
        "18.04": "1.16.0-1ubuntu1.1~18.04.4",
        "20.04": "1.18.0-1ubuntu0.1",
        "22.04": "1.20.0-1ubuntu0.1",
    }
    jammy = AdvisoryFix.objects.get(advisory=usn, release="22.04")
    assert jammy.product == "Ubuntu:22.04:LTS" and jammy.package_name == "wayland"
    assert "libwayland-client0" in jammy.binaries and jammy.ecosystem == "ubuntu"


def test_osv_ghsa_keeps_all_three_ranges(realdata, load):
    load("osv", realdata / "osv-ghsa")
    ghsa = Advisory.objects.get(identifier="GHSA-jfh8-c2jp-5v3q")
    assert ghsa.source == "ghsa" and ghsa.cves == ["CVE-2021-44228"]
    assert ghsa.vendor_severity == "critical"
    fix = ghsa.fixes.get()
    assert fix.ecosystem == "maven" and fix.package_name == "org.apache.logging.log4j:log4j-core"
    assert len(fix.affected_ranges) == 3
    assert fix.fixed_version == "2.15.0"


def test_osv_directory_import_is_idempotent(realdata, load):
    first = load("osv", realdata / "ubuntu-osv")
    assert first.created > 0
    again = load("osv", realdata / "ubuntu-osv")
    assert (again.created, again.updated) == (0, 0)
    assert Advisory.objects.filter(identifier__startswith="UBUNTU-CVE-").count() == 2


def test_osv_wrong_file_is_refused(realdata, db):
    with pytest.raises(CommandError, match="not an OSV record"):
        call_command("import_osv", str(realdata / "nvd-cve-2.0/CVE-2024-5910.json"))
    assert not Advisory.objects.exists()
