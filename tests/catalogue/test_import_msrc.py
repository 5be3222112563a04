import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.importers.msrc import parse_document
from catalogue.models import Advisory, AdvisoryFix, Vulnerability

pytestmark = pytest.mark.realdata

WIN11_23H2 = "Windows 11 Version 23H2 for x64-based Systems"


def test_msrc_november_document_counts(realdata, load):
    path = realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml"
    doc = parse_document(path.read_bytes(), path.name)
    assert len(doc["products"]) == 162 and len(doc["vulnerabilities"]) == 106
    load("msrc", path)
    assert Vulnerability.objects.count() == 106
    assert Advisory.objects.filter(source="msrc").count() == 42
    exploited = {c for a in Advisory.objects.all() for c in a.exploited_cves}
    assert exploited == {"CVE-2023-36025", "CVE-2023-36033", "CVE-2023-36036"}


def test_msrc_23h2_gets_kb5032190_with_its_fixed_build(realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    fix = AdvisoryFix.objects.get(product=WIN11_23H2, advisory__identifier="KB5032190")
    assert fix.fixed_version == "10.0.22631.2715"
    assert len(fix.cves) == 29
    assert fix.exploited_cves == ["CVE-2023-36025", "CVE-2023-36033", "CVE-2023-36036"]
    assert fix.supersedes == ["KB5031354"]
    assert fix.reboot_required is True and not fix.is_hotpatch
    assert fix.os_family == "windows" and fix.ecosystem == "windows"
    # The same KB for 22H2 carries the 22621 build: one row per product.
    h22 = AdvisoryFix.objects.get(
        product="Windows 11 Version 22H2 for x64-based Systems", advisory__identifier="KB5032190"
    )
    assert h22.fixed_version == "10.0.22621.2715"
    advisory = fix.advisory
    assert advisory.vendor == "Microsoft" and advisory.document == "2023-Nov"
    assert str(advisory.release_date) == "2023-11-14"


def test_msrc_hotpatch_remediations_are_flagged(realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    hot = AdvisoryFix.objects.get(product="Windows Server 2022", advisory__identifier="KB5032304")
    assert hot.is_hotpatch and hot.subtype == "SecurityHotpatchUpdate"
    assert hot.reboot_required is False


def test_msrc_severity_and_cvss(realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    v = Vulnerability.objects.get(cve_id="CVE-2023-36033")
    assert v.vendor_severity == "high"  # "Important"
    assert str(v.cvss3_score) == "7.8"
    assert Vulnerability.objects.filter(vendor_severity="critical").exists()


def test_msrc_december_document(realdata, load):
    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Dec.xml")
    assert Vulnerability.objects.count() == 51
    assert Advisory.objects.filter(source="msrc").count() == 20
    assert not any(a.exploited_cves for a in Advisory.objects.all())
    dec = AdvisoryFix.objects.get(product=WIN11_23H2, advisory__identifier="KB5033375")
    assert "KB5032190" in dec.supersedes


def test_msrc_second_import_changes_nothing(realdata, load):
    path = realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml"
    load("msrc", path)
    again = load("msrc", path)
    assert (again.created, again.updated) == (0, 0)
    assert again.unchanged == 106 + 42 + AdvisoryFix.objects.count()


def test_msrc_wrong_or_corrupt_file_is_refused(realdata, db, tmp_path):
    with pytest.raises(CommandError, match="not an MSRC CVRF"):
        call_command("import_msrc", str(realdata / "nmap/fullscan.xml"))
    truncated = tmp_path / "cut.xml"
    truncated.write_bytes((realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml").read_bytes()[:50000])
    with pytest.raises(CommandError, match="not well-formed XML"):
        call_command("import_msrc", str(truncated))
    assert not Advisory.objects.exists() and not Vulnerability.objects.exists()


@pytest.mark.parametrize(
    ("declaration", "reference"),
    [
        ('<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">', "&b;"),  # bomb
        ('<!ENTITY e SYSTEM "file:///etc/passwd">', "&e;"),  # external entity
    ],
)
def test_msrc_file_declaring_entities_is_refused_unexpanded(db, tmp_path, declaration, reference):
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(
        f'<?xml version="1.0"?><!DOCTYPE cvrfdoc [{declaration}]>'
        f'<cvrfdoc xmlns="http://www.icasi.org/CVRF/schema/cvrf/1.1">{reference}</cvrfdoc>'
    )
    with pytest.raises(CommandError, match="refused for safety"):
        call_command("import_msrc", str(hostile))
    assert not Advisory.objects.exists() and not Vulnerability.objects.exists()
