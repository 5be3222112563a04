"""Severity from the best score present, whatever the NVD status; whose each score is; CWEs and
rejection from CVE 5.

Records are the real ones in ``shared/realdata`` (NVD API 2.0 pages and ``cve`` objects, CVE 5.1
records from CISA's vulnrichment), some with one field changed the way NVD and CNAs publish
them: a ``vulnStatus`` of every value NVD uses, a record that only carries CVSS v2 (NVD's
pre-2016 analyses), a CVE 5.0-style record with a ``cvssV3_0`` metric and a ``problemTypes``
description holding the CWE, and a ``REJECTED`` record.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from catalogue.models import Vulnerability
from catalogue.scoring import score_entry

pytestmark = pytest.mark.realdata


@pytest.fixture
def single(realdata) -> dict:
    """CVE-2022-1576 as NVD serves it: v3.1 (Primary) and v2."""
    return json.loads((realdata / "nvd-api-2.0/single-entry.json").read_text())


def _write(tmp_path, name: str, doc) -> object:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "status",
    ["Received", "Awaiting Analysis", "Undergoing Analysis", "Analyzed", "Modified", "Deferred"],
)
def test_every_status_keeps_the_best_score(single, tmp_path, load, status):
    doc = copy.deepcopy(single)
    cve = doc["vulnerabilities"][0]["cve"]
    cve["vulnStatus"] = status
    v31 = cve["metrics"]["cvssMetricV31"][0]
    load("nvd", _write(tmp_path, "page.json", doc))
    v = Vulnerability.objects.get(cve_id=cve["id"])
    expected = score_entry(
        version="3.1", vector=v31["cvssData"]["vectorString"], provider="NVD", via="nvd"
    )
    assert v.nvd_status == status
    assert v.cvss_severity == expected["severity"] != "unknown"
    assert v.cvss3_score == Decimal(expected["score"])
    assert not v.is_rejected


def test_v2_only_record_maps_to_the_v2_rating(single, tmp_path, load):
    doc = copy.deepcopy(single)
    cve = doc["vulnerabilities"][0]["cve"]
    cve["vulnStatus"] = "Deferred"
    del cve["metrics"]["cvssMetricV31"]
    v2 = cve["metrics"]["cvssMetricV2"][0]
    load("nvd", _write(tmp_path, "page.json", doc))
    v = Vulnerability.objects.get(cve_id=cve["id"])
    score = Decimal(str(v2["cvssData"]["baseScore"]))
    assert v.cvss2_score == score and v.cvss3_score is None
    rating = "high" if score >= 7 else "medium" if score >= 4 else "low"
    assert v.cvss_severity == rating
    assert v.severity_score == f"CVSS 2.0 {score} (NVD)"


def test_v2_high_never_becomes_critical():
    entry = score_entry(version="2.0", vector="AV:N/AC:L/Au:N/C:C/I:C/A:C", provider="NVD", via="t")
    assert (entry["score"], entry["severity"]) == ("10.0", "high")


def test_v4_wins_over_v31_and_each_score_names_its_provider(realdata, load):
    load("cve5", realdata / "cve-json5/CVE-2024-4879.json")  # CNA v3.1 9.8 and v4.0 9.3
    v = Vulnerability.objects.get(cve_id="CVE-2024-4879")
    assert v.cvss_severity == "critical" and v.severity_score.startswith("CVSS 4.0 9.3")
    assert (v.cvss4_score, v.cvss3_score) == (Decimal("9.3"), Decimal("9.8"))
    assert {s["provider"] for s in v.scores} == {"CNA"}
    # The NVD page for another record: NVD and the CNA side by side.
    load("nvd", realdata / "nvd-cve-2.0/CVE-2024-5910.json")
    w = Vulnerability.objects.get(cve_id="CVE-2024-5910")
    assert w.severity_score.startswith("CVSS 4.0 9.3")
    assert {(s["version"], s["provider"]) for s in w.scores} >= {("4.0", "CNA"), ("3.1", "NVD")}


def test_cve5_adds_cna_and_adp_scores_beside_nvd_and_keeps_them_on_reimport(realdata, load):
    load("nvd", realdata / "nvd-cve-2.0/CVE-2023-36033.json")
    load("cve5", realdata / "cve-json5/CVE-2023-36033.json")
    v = Vulnerability.objects.get(cve_id="CVE-2023-36033")
    record = json.loads((realdata / "cve-json5/CVE-2023-36033.json").read_text())
    cna = record["containers"]["cna"]["metrics"][0]["cvssV3_1"]
    assert any(
        s["provider"] == "CNA" and s["score"] == str(Decimal(str(cna["baseScore"])))
        for s in v.scores
    )
    providers = {s["provider"] for s in v.scores}
    assert "NVD" in providers and "CNA" in providers
    load("nvd", realdata / "nvd-cve-2.0/CVE-2023-36033.json")  # NVD again: the CNA's stays
    v.refresh_from_db()
    assert {s["provider"] for s in v.scores} == providers


def test_cve5_cwes_from_problem_types(realdata, load):
    load("cve5", realdata / "cve-json5")
    for path in sorted((realdata / "cve-json5").glob("CVE-*.json")):
        record = json.loads(path.read_text())
        wanted = {
            d["cweId"]
            for c in [record["containers"]["cna"], *record["containers"].get("adp", [])]
            for p in c.get("problemTypes", [])
            for d in p.get("descriptions", [])
            if d.get("cweId")
        }
        got = set(Vulnerability.objects.get(cve_id=record["cveMetadata"]["cveId"]).cwes)
        assert got == wanted, path.name


def test_cve5_0_style_record_v30_and_cwe_in_description(realdata, tmp_path, load):
    record = json.loads((realdata / "cve-json5/CVE-2024-3400.json").read_text())
    record["dataVersion"] = "5.0"
    cna = record["containers"]["cna"]
    cna["metrics"] = [
        {
            "cvssV3_0": {
                "version": "3.0",
                "vectorString": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "baseScore": 9.8,
            }
        }
    ]
    cna["problemTypes"] = [
        {
            "descriptions": [
                {"lang": "en", "type": "text", "description": "CWE-77 Command Injection"}
            ]
        }
    ]
    record["containers"]["adp"] = []
    load("cve5", _write(tmp_path, "CVE-2024-3400.json", record))
    v = Vulnerability.objects.get(cve_id="CVE-2024-3400")
    assert v.cwes == ["CWE-77"]
    assert (v.cvss3_score, v.cvss_severity) == (Decimal("9.8"), "critical")
    assert v.severity_score == "CVSS 3.0 9.8 (CNA)"


def test_rejected_records_are_kept_as_rejected(realdata, single, tmp_path, load):
    record = json.loads((realdata / "cve-json5/CVE-2024-3094.json").read_text())
    record["cveMetadata"]["state"] = "REJECTED"
    record["containers"]["cna"]["rejectedReasons"] = [
        {"lang": "en", "value": "This candidate was withdrawn by its CNA."}
    ]
    load("cve5", _write(tmp_path, "CVE-2024-3094.json", record))
    assert Vulnerability.objects.get(cve_id="CVE-2024-3094").is_rejected
    doc = copy.deepcopy(single)
    doc["vulnerabilities"][0]["cve"]["vulnStatus"] = "Rejected"
    load("nvd", _write(tmp_path, "page.json", doc))
    assert Vulnerability.objects.get(cve_id="CVE-2022-1576").is_rejected
