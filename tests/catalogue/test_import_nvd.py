from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.models import Vulnerability

pytestmark = pytest.mark.realdata


def test_nvd_page_imports_every_record(realdata, load):
    record = load("nvd", realdata / "nvd-api-2.0/full-page.json")
    assert record.details["vulnerabilities"]["created"] == 38
    assert Vulnerability.objects.filter(nvd_status="Analyzed").count() == 25
    assert Vulnerability.objects.filter(nvd_status="Awaiting Analysis").count() == 13
    assert Vulnerability.objects.exclude(cvss3_vector="").count() == 35
    for cve in ("CVE-2023-43250", "CVE-2023-45383", "CVE-2023-46009"):
        bare = Vulnerability.objects.get(cve_id=cve)
        assert bare.cvss3_score is None and bare.cvss_severity == "unknown"


def test_nvd_primary_score_wins_over_the_cna_score(realdata, load):
    load("nvd", realdata / "nvd-api-2.0/full-page.json")
    v = Vulnerability.objects.get(cve_id="CVE-2023-45109")  # Primary 8.8, Secondary 5.4
    assert (v.cvss3_score, v.cvss3_source) == (Decimal("8.8"), "NVD nvd@nist.gov")
    assert v.cvss_severity == "high" and v.severity_score == "CVSS 3.1 8.8 (NVD)"
    # Both scores are kept, each saying whose it is.
    assert {(s["provider"], s["score"]) for s in v.scores} == {("NVD", "8.8"), ("CNA", "5.4")}
    assert v.cvss3_vector.startswith("CVSS:3.1/")


def test_nvd_awaiting_analysis_takes_its_severity_from_the_cna_score(realdata, load):
    load("nvd", realdata / "nvd-api-2.0/full-page.json")
    v = Vulnerability.objects.get(cve_id="CVE-2023-5642")  # CNA-only 9.8
    assert v.nvd_status == "Awaiting Analysis"
    assert v.cvss_severity == "critical" and v.severity_score == "CVSS 3.1 9.8 (CNA)"
    assert v.cvss3_score == Decimal("9.8")


def test_nvd_bare_cve_object_with_cvss_v4_beside_v31(realdata, load):
    load("nvd", realdata / "nvd-cve-2.0/CVE-2024-5910.json")
    v = Vulnerability.objects.get(cve_id="CVE-2024-5910")
    assert v.cvss4_score == Decimal("9.3")
    assert "E:X" in v.cvss4_vector and "MAV:X" in v.cvss4_vector
    assert v.cvss3_score == Decimal("9.8")
    assert v.cvss_severity == "critical"


def test_nvd_single_entry_and_second_run_idempotent(realdata, load):
    load("nvd", realdata / "nvd-api-2.0/single-entry.json")
    assert Vulnerability.objects.get(cve_id="CVE-2022-1576").cvss3_score is not None
    load("nvd", realdata / "nvd-api-2.0/full-page.json")
    again = load("nvd", realdata / "nvd-api-2.0/full-page.json")
    assert (again.created, again.updated) == (0, 0)
    assert again.details["vulnerabilities"]["unchanged"] == 38


def test_nvd_wrong_file_is_refused(realdata, db):
    with pytest.raises(CommandError, match="not an NVD CVE API 2.0"):
        call_command("import_nvd", str(realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json"))
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_nvd", str(realdata / "epss/example-1.csv"))
    assert not Vulnerability.objects.exists()


def test_nvd_record_without_metrics_keeps_a_score_from_msrc(realdata, load, tmp_path):
    import json

    load("msrc", realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml")
    bare = json.loads((realdata / "nvd-cve-2.0/CVE-2023-36033.json").read_text())
    bare["metrics"] = {}
    bare["vulnStatus"] = "Awaiting Analysis"
    path = tmp_path / "CVE-2023-36033.json"
    path.write_text(json.dumps(bare))
    load("nvd", path)
    v = Vulnerability.objects.get(cve_id="CVE-2023-36033")
    assert v.cvss3_score == Decimal("7.8") and v.cvss3_source == "CNA secure@microsoft.com"
    assert v.cvss_severity == "high" and v.vendor_severity == "high"
    # NVD's own analysis then wins over the vendor's score; the vendor's is kept beside it.
    load("nvd", realdata / "nvd-cve-2.0/CVE-2023-36033.json")
    v.refresh_from_db()
    assert v.cvss3_source == "NVD nvd@nist.gov"
    assert {s["provider"] for s in v.scores} >= {"NVD", "CNA"}
