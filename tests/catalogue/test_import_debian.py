import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.models import Advisory, AdvisoryFix

pytestmark = pytest.mark.realdata


def test_debian_tracker_fixed_version_per_release(realdata, load):
    load("debian", realdata / "debian-security-tracker/debian.json")
    adv = Advisory.objects.get(identifier="DEBIAN-CVE-2008-7220")
    assert adv.cves == ["CVE-2008-7220"] and adv.vendor_severity == "high"
    fixes = AdvisoryFix.objects.filter(advisory=adv, package_name="prototypejs")
    assert fixes.get(release="9").fixed_version == "1.6.0.2-1"  # stretch
    assert fixes.get(release="9").product == "Debian:9"
    assert not AdvisoryFix.objects.filter(fixed_version="0").exists()


def test_debian_dsa_list_including_odd_entries(realdata, load):
    load("debian", realdata / "debian-security-tracker/DSA")
    dsa = Advisory.objects.get(identifier="DSA-140")
    assert dsa.cves == ["CVE-2002-0660", "CVE-2002-0728"]
    assert set(dsa.fixes.values_list("package_name", "fixed_version")) == {
        ("libpng", "1.0.12-3.woody.2"),
        ("libpng3", "1.2.1-1.1.woody.2"),
    }
    eol = Advisory.objects.get(identifier="DSA-4205-1")
    assert eol.cves == [] and not eol.fixes.exists()
    sope = Advisory.objects.get(identifier="DSA-5970-1").fixes.get()
    assert (sope.release, sope.fixed_version) == ("12", "5.8.0-1+deb12u1")
    again = load("debian", realdata / "debian-security-tracker/DSA")
    assert (again.created, again.updated) == (0, 0)


def test_debian_wrong_file_is_refused(realdata, db):
    with pytest.raises(CommandError, match="not a Debian"):
        call_command("import_debian", str(realdata / "epss/example-1.csv"))
    with pytest.raises(CommandError, match="not a Debian tracker JSON"):
        call_command("import_debian", str(realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json"))
    assert not Advisory.objects.exists()
