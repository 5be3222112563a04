from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.models import Vulnerability

pytestmark = pytest.mark.realdata


def test_cve5_ssvc_exploitation_is_normalised(realdata, load):
    load("cve5", realdata / "cve-json5")
    got = dict(Vulnerability.objects.values_list("cve_id", "ssvc_exploitation"))
    assert got["CVE-2023-36033"] == got["CVE-2023-36036"] == got["CVE-2021-34527"] == "active"
    assert got["CVE-2024-3400"] == "active"  # "Active" in the file
    assert got["CVE-2024-6387"] == "poc"
    assert got["CVE-2024-3094"] == "none"


def test_cve5_v4_only_and_both_versions(realdata, load):
    load("cve5", realdata / "cve-json5")
    v4_only = Vulnerability.objects.get(cve_id="CVE-2024-9463")
    assert v4_only.cvss4_score is not None and v4_only.cvss3_score is None
    both = Vulnerability.objects.get(cve_id="CVE-2024-4879")
    assert (both.cvss3_score, both.cvss4_score) == (Decimal("9.8"), Decimal("9.3"))


def test_cve5_never_overwrites_nvd_scores(realdata, load):
    load("nvd", realdata / "nvd-cve-2.0/CVE-2024-5910.json")
    before = Vulnerability.objects.get(cve_id="CVE-2024-5910")
    load("cve5", realdata / "cve-json5")
    after = Vulnerability.objects.get(cve_id="CVE-2024-5910")
    assert (after.cvss4_vector, after.cvss4_source) == (before.cvss4_vector, before.cvss4_source)
    again = load("cve5", realdata / "cve-json5")
    assert (again.created, again.updated) == (0, 0)


def test_cve5_wrong_file_is_refused(realdata, db):
    with pytest.raises(CommandError, match="not a CVE JSON 5 record"):
        call_command("import_cve5", str(realdata / "nvd-cve-2.0/CVE-2024-5910.json"))
    assert not Vulnerability.objects.exists()
